# One include per in-tree plugin; each block is guarded by BUILD_PLUGIN_<name>.
include plugins/s3/local.mk
include plugins/github/local.mk
include plugins/bitbucket/local.mk
include plugins/http/local.mk
include plugins/onprem/local.mk
include plugins/haproxy/local.mk
include plugins/http-check/local.mk
include plugins/prometheus/local.mk
include plugins/cloudwatch/local.mk
include plugins/lambda/local.mk
include plugins/ec2/local.mk
include plugins/ecs/local.mk
include plugins/elb/local.mk
