variable "name" {
  type        = string
  description = "Name prefix of the cluster's resources."
  default     = "skiff-prod"
}

variable "vpc_id" {
  type        = string
  description = "VPC to run in."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets in three availability zones, with a NAT gateway or VPC endpoints for S3, ECR, CloudWatch Logs and Lambda."
}

variable "allowed_client_cidrs" {
  type        = list(string)
  description = "Networks of the Kafka clients."
}

variable "metrics_allowed_cidrs" {
  type        = list(string)
  description = "Networks of the Prometheus scrapers."
  default     = []
}

variable "image" {
  type        = string
  description = "The skiff container image (in ECR: the instances get pull rights)."
}

variable "lambda_trigger" {
  type        = string
  description = "\"skiff\" (skiff trigger service) or \"aws_esm\" (AWS's event source mapping)."
  default     = "skiff"
}

variable "lambda_package_file" {
  type        = string
  description = "The function's zip, e.g. from `cargo lambda build --release --output-format zip`."
}

variable "lambda_topics" {
  type        = list(string)
  description = "Topics the function consumes."
  default     = ["orders"]
}

variable "cluster_secret_arn" {
  type        = string
  description = "An existing Secrets Manager secret or SSM SecureString parameter (ARN) holding the controller API's shared secret; null: the module creates one."
  default     = null
}
