terraform {
  # 1.9: validation blocks that compare two variables (broker_min_count <= broker_max_count).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.10 added aws_instance.primary_network_interface, which keeps a controller's ENI
      # (and so its address) across instance replacement.
      version = ">= 6.10.0, < 7.0.0"
    }
  }
}
