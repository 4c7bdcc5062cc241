# The smallest Skiff cluster: 3 controllers, 2-6 brokers, a bucket, in an existing VPC.
#
#   terraform init
#   terraform apply -var vpc_id=vpc-... -var 'subnet_ids=["subnet-a","subnet-b","subnet-c"]' \
#     -var 'allowed_client_cidrs=["10.0.0.0/16"]' -var image=123456789012.dkr.ecr.eu-west-1.amazonaws.com/skiff:0.1.0

provider "aws" {
  # The region (and credentials) come from the environment: AWS_REGION, AWS_PROFILE, ...
}

module "skiff" {
  source = "../.."

  vpc_id               = var.vpc_id
  subnet_ids           = var.subnet_ids
  allowed_client_cidrs = var.allowed_client_cidrs
  image                = var.image
}
