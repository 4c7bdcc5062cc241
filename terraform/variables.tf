# Inputs of the Skiff module. Every variable has a type, a description and, where a bad value
# would only fail at apply (or worse, run), a validation block so `terraform plan` refuses it.

# ---- naming and placement ----

variable "name" {
  type        = string
  description = "Name prefix for every resource (bucket, instances, roles, log groups)."
  default     = "skiff"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3-24 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (it becomes part of the bucket, role and load balancer names)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "VPC the cluster runs in."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC id such as vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets, one per availability zone, at least three zones: controller i runs in subnet i (mod the count), and brokers, the load balancer and the Lambda pollers use all of them. They need a route to S3, ECR, CloudWatch Logs (and Lambda when a consumer is set): a NAT gateway or VPC endpoints."

  validation {
    condition     = length(var.subnet_ids) >= 3 && length(distinct(var.subnet_ids)) == length(var.subnet_ids)
    error_message = "subnet_ids must list at least 3 distinct subnets (one per availability zone), so that losing one zone leaves a controller majority."
  }

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "Every entry of subnet_ids must be a subnet id such as subnet-0123456789abcdef0."
  }
}

# ---- who may connect ----

variable "allowed_client_cidrs" {
  type        = list(string)
  description = "CIDR blocks of Kafka clients. They may reach the bootstrap load balancer and every broker on the Kafka port; they must be routed to the subnets (same VPC, peering, VPN or Transit Gateway)."

  validation {
    condition     = length(var.allowed_client_cidrs) > 0
    error_message = "allowed_client_cidrs must not be empty: list the networks your Kafka clients connect from (e.g. the VPC's CIDR). Clients in security groups can be added with allowed_client_security_group_ids, or attach the client_security_group_id output to them."
  }

  validation {
    condition     = alltrue([for cidr in var.allowed_client_cidrs : can(cidrhost(cidr, 0)) && !startswith(cidr, "0.0.0.0/")])
    error_message = "Every entry of allowed_client_cidrs must be an IPv4 CIDR block such as 10.0.0.0/16, and not 0.0.0.0/0 (Kafka has no authentication here)."
  }
}

variable "allowed_client_security_group_ids" {
  type        = list(string)
  description = "Security groups whose members may reach the Kafka port, in addition to allowed_client_cidrs and the module's own client_security_group_id."
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_client_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "Every entry of allowed_client_security_group_ids must be a security group id such as sg-0123456789abcdef0."
  }
}

variable "metrics_allowed_cidrs" {
  type        = list(string)
  description = "CIDR blocks of Prometheus scrapers allowed on the metrics port of controllers and brokers. Empty: only the load balancer's health checks reach it."
  default     = []

  validation {
    condition     = alltrue([for cidr in var.metrics_allowed_cidrs : can(cidrhost(cidr, 0)) && !startswith(cidr, "0.0.0.0/")])
    error_message = "Every entry of metrics_allowed_cidrs must be an IPv4 CIDR block, and not 0.0.0.0/0."
  }
}

# ---- ports ----

variable "kafka_port" {
  type        = number
  description = "Kafka port of the brokers and of the bootstrap load balancer."
  default     = 9092

  validation {
    condition     = var.kafka_port >= 1024 && var.kafka_port <= 65535 && floor(var.kafka_port) == var.kafka_port
    error_message = "kafka_port must be a whole number from 1024 to 65535 (the container runs as a non-root user)."
  }
}

variable "controller_port" {
  type        = number
  description = "HTTP port of the controllers (Raft between controllers, the broker API, admin)."
  default     = 9190

  validation {
    condition     = var.controller_port >= 1024 && var.controller_port <= 65535 && floor(var.controller_port) == var.controller_port && var.controller_port != var.kafka_port
    error_message = "controller_port must be a whole number from 1024 to 65535 and differ from kafka_port."
  }
}

variable "metrics_port" {
  type        = number
  description = "Prometheus metrics port (GET /metrics) of controllers, brokers and the trigger; the load balancer's health check asks it."
  default     = 9100

  validation {
    condition     = var.metrics_port >= 1024 && var.metrics_port <= 65535 && floor(var.metrics_port) == var.metrics_port && !contains([var.kafka_port, var.controller_port], var.metrics_port)
    error_message = "metrics_port must be a whole number from 1024 to 65535 and differ from kafka_port and controller_port."
  }
}

# ---- image and instances ----

variable "image" {
  type        = string
  description = "The skiff container image (built from the repository's Dockerfile), e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/skiff:0.1.0. Pull access to an ECR repository of this account is granted to the instances; other registries must be public."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/:@-]*$", var.image)) && length(var.image) <= 255
    error_message = "image must be a container image reference such as registry/skiff:0.1.0 (lowercase, no spaces)."
  }
}

variable "architecture" {
  type        = string
  description = "CPU architecture of every instance, and so of the image: x86_64 or arm64 (Graviton; build the image for linux/arm64)."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI for every instance. Default (null): the latest Amazon Linux 2023 for the architecture, read from SSM at plan time. It must provide docker (dnf), the AWS CLI and curl."
  default     = null

  validation {
    condition     = var.ami_id == null ? true : can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be null or an AMI id such as ami-0123456789abcdef0."
  }
}

variable "enable_ssm" {
  type        = bool
  description = "Attach AmazonSSMManagedInstanceCore to the instance roles, so operators reach instances with Session Manager (the module opens no SSH port)."
  default     = true
}

# ---- controllers ----

variable "controller_count" {
  type        = number
  description = "Number of controller nodes (a Raft cluster): 3 survives the loss of one, 5 of two."
  default     = 3

  validation {
    condition     = contains([3, 5], var.controller_count)
    error_message = "controller_count must be 3 or 5: fewer than 3 controllers cannot survive losing one, and an even count adds no fault tolerance."
  }
}

variable "controller_instance_type" {
  type        = string
  description = "EC2 instance type of the controllers."
  default     = "m7i.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.controller_instance_type))
    error_message = "controller_instance_type must be an EC2 instance type such as m7i.large."
  }
}

variable "controller_volume_size_gib" {
  type        = number
  description = "Size of each controller's EBS data volume (Raft log and snapshots), in GiB."
  default     = 50

  validation {
    condition     = var.controller_volume_size_gib >= 8 && var.controller_volume_size_gib <= 16384 && floor(var.controller_volume_size_gib) == var.controller_volume_size_gib
    error_message = "controller_volume_size_gib must be a whole number from 8 to 16384."
  }
}

variable "controller_volume_iops" {
  type        = number
  description = "Provisioned IOPS of each controller's gp3 data volume (every Raft append is fsynced)."
  default     = 3000

  validation {
    condition     = var.controller_volume_iops >= 3000 && var.controller_volume_iops <= 16000
    error_message = "controller_volume_iops must be from 3000 to 16000 (gp3's range)."
  }
}

variable "controller_gc_interval_minutes" {
  type        = number
  description = "How often the controller leader lists segments/ to collect objects no one will read (SKIFF_GC_INTERVAL_MS). Each pass lists every segment object (one LIST request per 1,000), so on S3 a long interval saves real money; see README: cost."
  default     = 60

  validation {
    condition     = var.controller_gc_interval_minutes >= 1 && var.controller_gc_interval_minutes <= 1440 && floor(var.controller_gc_interval_minutes) == var.controller_gc_interval_minutes
    error_message = "controller_gc_interval_minutes must be a whole number from 1 to 1440 (a day)."
  }
}

variable "allow_unsafe_bucket" {
  type        = bool
  description = "Start controllers even when `skiff store check` finds a bucket setting that would lose data (passes --allow-unsafe-store). Leave false."
  default     = false
}

# ---- brokers ----

variable "broker_instance_type" {
  type        = string
  description = "EC2 instance type of the brokers (network bandwidth matters most: every byte in goes to S3 and every byte out comes from the cache or S3)."
  default     = "c7i.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.broker_instance_type))
    error_message = "broker_instance_type must be an EC2 instance type such as c7i.large."
  }
}

variable "broker_min_count" {
  type        = number
  description = "Fewest brokers the autoscaling group keeps running."
  default     = 2

  validation {
    condition     = var.broker_min_count >= 1 && floor(var.broker_min_count) == var.broker_min_count
    error_message = "broker_min_count must be a whole number of at least 1."
  }
}

variable "broker_max_count" {
  type        = number
  description = "Most brokers the autoscaling group may run."
  default     = 6

  validation {
    condition     = var.broker_max_count >= var.broker_min_count && var.broker_max_count <= 100 && floor(var.broker_max_count) == var.broker_max_count
    error_message = "broker_max_count must be a whole number from broker_min_count to 100."
  }
}

variable "broker_cpu_target_percent" {
  type        = number
  description = "Target average CPU utilisation of the brokers; the group scales out above it and in below it."
  default     = 60

  validation {
    condition     = var.broker_cpu_target_percent >= 10 && var.broker_cpu_target_percent <= 90
    error_message = "broker_cpu_target_percent must be from 10 to 90."
  }
}

variable "broker_network_in_target_mib_per_minute" {
  type        = number
  description = "Target average bytes received per broker per minute, in MiB (the ASGAverageNetworkIn metric with detailed monitoring); the group also scales on it. 3072 MiB/min is about 51 MiB/s per broker."
  default     = 3072

  validation {
    condition     = var.broker_network_in_target_mib_per_minute >= 64
    error_message = "broker_network_in_target_mib_per_minute must be at least 64."
  }
}

variable "broker_cache_disk_gib" {
  type        = number
  description = "Size of each broker's encrypted gp3 root volume, in GiB; the read cache's disk tier takes half of it."
  default     = 40

  validation {
    condition     = var.broker_cache_disk_gib >= 20 && var.broker_cache_disk_gib <= 16384 && floor(var.broker_cache_disk_gib) == var.broker_cache_disk_gib
    error_message = "broker_cache_disk_gib must be a whole number from 20 to 16384."
  }
}

variable "broker_extra_env" {
  type        = map(string)
  description = "Extra SKIFF_* settings for every broker, e.g. { SKIFF_AUTO_CREATE_TOPICS = \"true\" } (see the settings table in the repository's README)."
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.broker_extra_env) : can(regex("^SKIFF_[A-Z0-9_]+$", key))])
    error_message = "Every key of broker_extra_env must be a SKIFF_* variable name in upper case."
  }
}

variable "archive_glue_database" {
  type        = string
  description = "Name of an AWS Glue database the module creates; brokers register every archived topic's Iceberg table in it (skiff.archive.enable) so Athena queries it with no crawler. Default (null): no Glue database, no Glue permissions."
  default     = null

  validation {
    condition     = var.archive_glue_database == null ? true : can(regex("^[a-z0-9_]{1,255}$", var.archive_glue_database))
    error_message = "archive_glue_database must be null or a Glue database name: lower case letters, digits and underscores."
  }
}

variable "load_balancer_deletion_protection" {
  type        = bool
  description = "Deletion protection on the bootstrap load balancer (turn off before terraform destroy)."
  default     = true
}

# ---- object storage ----

variable "bucket_name" {
  type        = string
  description = "Name of the S3 bucket the module creates for segments and the archive. Default (null): <name>-<account id>-<region>."
  default     = null

  validation {
    condition     = var.bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be null or a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)."
  }
}

variable "bucket_prefix" {
  type        = string
  description = "Key prefix under which Skiff keeps every object (segments/ and archive/). Instance roles may touch only keys under it."
  default     = "skiff"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$", var.bucket_prefix))
    error_message = "bucket_prefix must be a non-empty key prefix such as skiff or prod/skiff: no leading or trailing slash, no empty segment."
  }
}

variable "bucket_force_destroy" {
  type        = bool
  description = "Let terraform destroy delete a bucket that still holds objects. Leave false for a cluster with data you keep."
  default     = false
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for the bucket's default encryption (SSE-KMS, with an S3 bucket key). Default (null): SSE-S3. The instance roles get kms:Decrypt and kms:GenerateDataKey on it."
  default     = null

  validation {
    condition     = var.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key ARN such as arn:aws:kms:REGION:ACCOUNT:key/ID."
  }
}

variable "cluster_secret_arn" {
  type        = string
  description = "The controller API's shared secret (at least 16 characters): the ARN of a Secrets Manager secret (its SecretString) or of an SSM SecureString parameter, which controllers and brokers read when their container starts. Default (null): the module creates a Secrets Manager secret with a random value."
  default     = null

  validation {
    condition     = var.cluster_secret_arn == null ? true : can(regex("^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+|ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+)$", var.cluster_secret_arn))
    error_message = "cluster_secret_arn must be null, a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME) or an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)."
  }
}

variable "bucket_versioning" {
  type        = bool
  description = "Keep object versions (protects against a mistaken delete outside Skiff). Skiff's own deletes then leave noncurrent versions, removed after noncurrent_version_expiration_days."
  default     = true
}

variable "noncurrent_version_expiration_days" {
  type        = number
  description = "With versioning: days after which noncurrent versions (objects Skiff deleted or a mistaken overwrite replaced) are removed. Current objects never expire."
  default     = 7

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number from 1 to 3650."
  }
}

variable "abort_incomplete_multipart_days" {
  type        = number
  description = "Days after which S3 aborts unfinished multipart uploads (a broker killed mid-upload leaves parts that cost storage)."
  default     = 2

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1 && var.abort_incomplete_multipart_days <= 365 && floor(var.abort_incomplete_multipart_days) == var.abort_incomplete_multipart_days
    error_message = "abort_incomplete_multipart_days must be a whole number from 1 to 365."
  }
}

# ---- logs ----

variable "log_retention_days" {
  type        = number
  description = "Retention of the CloudWatch log groups (controllers, brokers, trigger, Lambda function), in days."
  default     = 30

  validation {
    condition     = contains([7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be at least 7 and one of CloudWatch's values: 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the CloudWatch log groups. Default (null): CloudWatch's own encryption. The key policy must allow the logs service of this region."
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be null or a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

# ---- Lambda consumer ----

variable "lambda_trigger" {
  type        = string
  description = "What invokes the Lambda consumer: \"none\" (no function), \"skiff\" (`skiff trigger` on its own autoscaling group, the same event AWS sends) or \"aws_esm\" (AWS's event source mapping with self_managed_event_source pointing at the bootstrap load balancer)."
  default     = "none"

  validation {
    condition     = contains(["none", "skiff", "aws_esm"], var.lambda_trigger)
    error_message = "lambda_trigger must be \"none\", \"skiff\" or \"aws_esm\"."
  }
}

variable "lambda_package_file" {
  type        = string
  description = "Path of the function's .zip (e.g. cargo lambda build --output-format zip). Give this or lambda_image_uri when lambda_trigger is not \"none\"."
  default     = null

  validation {
    condition     = var.lambda_package_file == null ? true : endswith(var.lambda_package_file, ".zip")
    error_message = "lambda_package_file must be the path of a .zip file."
  }

  validation {
    condition     = var.lambda_trigger == "none" || (var.lambda_package_file == null) != (var.lambda_image_uri == null)
    error_message = "With lambda_trigger set, give exactly one of lambda_package_file and lambda_image_uri."
  }
}

variable "lambda_image_uri" {
  type        = string
  description = "ECR image URI of the function, instead of lambda_package_file."
  default     = null

  validation {
    condition     = var.lambda_image_uri == null ? true : can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com/.+$", var.lambda_image_uri))
    error_message = "lambda_image_uri must be an ECR image URI (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG); Lambda runs images only from ECR."
  }
}

variable "lambda_handler" {
  type        = string
  description = "Handler of a zip package (\"bootstrap\" for Rust on provided.al2023)."
  default     = "bootstrap"
}

variable "lambda_runtime" {
  type        = string
  description = "Runtime of a zip package."
  default     = "provided.al2023"

  validation {
    condition     = can(regex("^(provided\\.al2023|provided\\.al2|python3\\.[0-9]+|nodejs[0-9]+\\.x|java[0-9]+|dotnet[0-9]+|ruby3\\.[0-9]+)$", var.lambda_runtime))
    error_message = "lambda_runtime must be a Lambda runtime identifier such as provided.al2023, python3.13 or nodejs22.x."
  }
}

variable "lambda_memory_mb" {
  type        = number
  description = "Memory of the function, in MB."
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be from 128 to 10240."
  }
}

variable "lambda_timeout_s" {
  type        = number
  description = "Timeout of one invocation, in seconds."
  default     = 60

  validation {
    condition     = var.lambda_timeout_s >= 1 && var.lambda_timeout_s <= 900
    error_message = "lambda_timeout_s must be from 1 to 900."
  }
}

variable "lambda_reserved_concurrency" {
  type        = number
  description = "Reserved concurrent executions of the function (at most one batch per partition runs at a time, so the partition count is a natural bound)."
  default     = 10

  validation {
    condition     = var.lambda_reserved_concurrency >= 1 && floor(var.lambda_reserved_concurrency) == var.lambda_reserved_concurrency
    error_message = "lambda_reserved_concurrency must be a whole number of at least 1."
  }
}

variable "lambda_environment" {
  type        = map(string)
  description = "Environment variables of the function."
  default     = {}
}

variable "lambda_topics" {
  type        = list(string)
  description = "Topics the function consumes."
  default     = []

  validation {
    condition     = alltrue([for topic in var.lambda_topics : can(regex("^[A-Za-z0-9._-]{1,249}$", topic))])
    error_message = "Every entry of lambda_topics must be a Kafka topic name: 1-249 letters, digits, dots, underscores and hyphens."
  }

  validation {
    condition     = var.lambda_trigger == "none" || length(var.lambda_topics) > 0
    error_message = "With lambda_trigger set, lambda_topics must name at least one topic."
  }
}

variable "lambda_consumer_group" {
  type        = string
  description = "Consumer group of the trigger (its committed offsets are the function's progress). Default (null): <name>-lambda."
  default     = null

  validation {
    condition     = var.lambda_consumer_group == null ? true : can(regex("^[A-Za-z0-9._-]{1,200}$", var.lambda_consumer_group))
    error_message = "lambda_consumer_group must be 1-200 letters, digits, dots, underscores and hyphens."
  }
}

variable "lambda_batch_size" {
  type        = number
  description = "Most records per invocation (the ESM's BatchSize; `skiff trigger --batch-size`)."
  default     = 100

  validation {
    condition     = var.lambda_batch_size >= 1 && var.lambda_batch_size <= 10000 && floor(var.lambda_batch_size) == var.lambda_batch_size
    error_message = "lambda_batch_size must be a whole number from 1 to 10000."
  }
}

variable "lambda_batching_window_ms" {
  type        = number
  description = "Longest wait to fill a batch, in ms (`skiff trigger --batching-window-ms`; the ESM takes whole seconds and gets it rounded up)."
  default     = 500

  validation {
    condition     = var.lambda_batching_window_ms >= 0 && var.lambda_batching_window_ms <= 300000 && floor(var.lambda_batching_window_ms) == var.lambda_batching_window_ms
    error_message = "lambda_batching_window_ms must be a whole number from 0 to 300000 (5 minutes)."
  }
}

variable "lambda_starting_position" {
  type        = string
  description = "Where a new consumer group starts: TRIM_HORIZON (oldest record) or LATEST."
  default     = "TRIM_HORIZON"

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.lambda_starting_position)
    error_message = "lambda_starting_position must be TRIM_HORIZON or LATEST."
  }
}

variable "trigger_instance_type" {
  type        = string
  description = "EC2 instance type of the `skiff trigger` service (lambda_trigger = \"skiff\")."
  default     = "t3.small"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.trigger_instance_type))
    error_message = "trigger_instance_type must be an EC2 instance type such as t3.small."
  }
}

variable "trigger_count" {
  type        = number
  description = "Number of `skiff trigger` processes; they share the consumer group, so partitions spread over them."
  default     = 1

  validation {
    condition     = var.trigger_count >= 1 && var.trigger_count <= 20 && floor(var.trigger_count) == var.trigger_count
    error_message = "trigger_count must be a whole number from 1 to 20."
  }
}
