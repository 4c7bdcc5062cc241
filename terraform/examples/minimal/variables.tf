variable "vpc_id" {
  type        = string
  description = "VPC to run in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets in three availability zones."
}

variable "allowed_client_cidrs" {
  type        = list(string)
  description = "Networks of the Kafka clients."
}

variable "image" {
  type        = string
  description = "The skiff container image."
}
