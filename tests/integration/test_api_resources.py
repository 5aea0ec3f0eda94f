"""Control API resources through boto3 (and a few through /usr/bin/aws):
applications, deployment configs (all built-ins), deployment groups, tags."""

import pytest

from api_helpers import call, error_code, model, raw_client

ARN_APP = "arn:aws:codedeploy:us-east-1:000000000000:application:%s"
ARN_GROUP = "arn:aws:codedeploy:us-east-1:000000000000:deploymentgroup:%s/%s"
ROLE = "arn:aws:iam::123456789012:role/CodeDeploy"


@pytest.fixture
def cd(daemon):
    return raw_client(daemon, daemon.admin)


# ---------------------------------------------------------------- applications

def test_application_lifecycle(cd):
    app_id = cd.create_application(applicationName="web", computePlatform="Server")["applicationId"]
    assert len(app_id) == 36
    info = cd.get_application(applicationName="web")["application"]
    assert info["applicationId"] == app_id
    assert info["applicationName"] == "web"
    assert info["computePlatform"] == "Server"
    assert info["linkedToGitHub"] is False
    assert info["createTime"].year >= 2024
    assert error_code(cd.create_application, applicationName="web") == "ApplicationAlreadyExistsException"
    cd.create_application(applicationName="fn", computePlatform="Lambda")
    assert cd.create_application(applicationName="plain")["applicationId"]
    assert cd.get_application(applicationName="plain")["application"]["computePlatform"] == "Server"
    got = cd.batch_get_applications(applicationNames=["web", "fn"])["applicationsInfo"]
    assert [a["computePlatform"] for a in got] == ["Server", "Lambda"]
    assert error_code(cd.batch_get_applications, applicationNames=["web", "ghost"]) == \
        "ApplicationDoesNotExistException"
    assert error_code(cd.batch_get_applications, applicationNames=["a%d" % i for i in range(101)]) == \
        "BatchLimitExceededException"
    cd.update_application(applicationName="web", newApplicationName="site")
    assert error_code(cd.get_application, applicationName="web") == "ApplicationDoesNotExistException"
    assert cd.get_application(applicationName="site")["application"]["applicationId"] == app_id
    assert error_code(cd.update_application, applicationName="site", newApplicationName="fn") == \
        "ApplicationAlreadyExistsException"
    assert error_code(cd.update_application, applicationName="ghost", newApplicationName="x") == \
        "ApplicationDoesNotExistException"
    cd.delete_application(applicationName="site")
    assert error_code(cd.get_application, applicationName="site") == "ApplicationDoesNotExistException"
    assert sorted(cd.list_applications()["applications"]) == ["fn", "plain"]


def test_application_validation(cd):
    assert error_code(cd.create_application, applicationName="x" * 101) == "InvalidApplicationNameException"
    assert error_code(cd.create_application, applicationName="") == "InvalidApplicationNameException"
    assert error_code(cd.create_application, applicationName="x", computePlatform="Mainframe") == \
        "InvalidComputePlatformException"
    assert error_code(cd.create_application, applicationName="x",
                      tags=[{"Key": "", "Value": "v"}]) == "InvalidTagsToAddException"


def test_list_applications_pages(daemon, cd):
    names = ["app-%03d" % i for i in range(130)]
    for n in names:
        cd.create_application(applicationName=n)
    first = cd.list_applications()
    assert len(first["applications"]) == 100 and first["nextToken"]
    second = cd.list_applications(nextToken=first["nextToken"])
    assert "nextToken" not in second
    assert first["applications"] + second["applications"] == names
    # the paginator walks them all
    pages = cd.get_paginator("list_applications").paginate()
    assert [n for p in pages for n in p["applications"]] == names
    assert error_code(cd.list_applications, nextToken="garbage!") == "InvalidNextTokenException"
    # a token of another operation is refused
    tok = cd.list_deployment_configs()
    assert "nextToken" not in tok
    assert error_code(cd.list_deployment_configs, nextToken=first["nextToken"]) == "InvalidNextTokenException"


# ---------------------------------------------------------------- deployment configs

CANARY = lambda p, i: {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": p, "canaryInterval": i}}  # noqa
LINEAR = lambda p, i: {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": p, "linearInterval": i}}  # noqa
ALL = {"type": "AllAtOnce"}

# the 17 built-in configs as CodeDeploy defines them
BUILTINS = {
    "CodeDeployDefault.OneAtATime": ("Server", {"minimumHealthyHosts": {"type": "MOST_CONCURRENCY", "value": 1}}),
    "CodeDeployDefault.HalfAtATime": ("Server", {"minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 50}}),
    "CodeDeployDefault.AllAtOnce": ("Server", {"minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 0}}),
    "CodeDeployDefault.LambdaAllAtOnce": ("Lambda", {"trafficRoutingConfig": ALL}),
    "CodeDeployDefault.LambdaCanary10Percent5Minutes": ("Lambda", {"trafficRoutingConfig": CANARY(10, 5)}),
    "CodeDeployDefault.LambdaCanary10Percent10Minutes": ("Lambda", {"trafficRoutingConfig": CANARY(10, 10)}),
    "CodeDeployDefault.LambdaCanary10Percent15Minutes": ("Lambda", {"trafficRoutingConfig": CANARY(10, 15)}),
    "CodeDeployDefault.LambdaCanary10Percent30Minutes": ("Lambda", {"trafficRoutingConfig": CANARY(10, 30)}),
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute": ("Lambda", {"trafficRoutingConfig": LINEAR(10, 1)}),
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes": ("Lambda", {"trafficRoutingConfig": LINEAR(10, 2)}),
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes": ("Lambda", {"trafficRoutingConfig": LINEAR(10, 3)}),
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes": ("Lambda", {"trafficRoutingConfig": LINEAR(10, 10)}),
    "CodeDeployDefault.ECSAllAtOnce": ("ECS", {"trafficRoutingConfig": ALL}),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": ("ECS", {"trafficRoutingConfig": CANARY(10, 5)}),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": ("ECS", {"trafficRoutingConfig": CANARY(10, 15)}),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": ("ECS", {"trafficRoutingConfig": LINEAR(10, 1)}),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": ("ECS", {"trafficRoutingConfig": LINEAR(10, 3)}),
}


def test_builtin_configs_listed(cd):
    assert len(BUILTINS) == 17
    assert sorted(cd.list_deployment_configs()["deploymentConfigsList"]) == sorted(BUILTINS)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_config_reads_back_exactly(daemon, name):
    platform, definition = BUILTINS[name]
    r = call(daemon, daemon.admin, "GetDeploymentConfig", {"deploymentConfigName": name})
    info = r.json()["deploymentConfigInfo"]
    assert set(info) == {"deploymentConfigId", "deploymentConfigName", "createTime", "computePlatform"} | set(definition)
    assert info["deploymentConfigName"] == name
    assert info["computePlatform"] == platform
    for k, v in definition.items():
        assert info[k] == v
    assert isinstance(info["createTime"], (int, float))


def test_builtin_configs_cannot_be_deleted_or_shadowed(cd):
    assert error_code(cd.delete_deployment_config, deploymentConfigName="CodeDeployDefault.OneAtATime") == \
        "InvalidOperationException"
    assert error_code(cd.create_deployment_config, deploymentConfigName="CodeDeployDefault.Mine",
                      minimumHealthyHosts={"type": "HOST_COUNT", "value": 1}) == \
        "InvalidDeploymentConfigNameException"


def test_aws_cli_builtin_config(aws):
    _, out = aws("deploy", "get-deployment-config", "--deployment-config-name",
                 "CodeDeployDefault.LambdaCanary10Percent5Minutes")
    assert out["deploymentConfigInfo"]["trafficRoutingConfig"] == CANARY(10, 5)


def test_custom_configs(daemon, cd):
    cid = cd.create_deployment_config(deploymentConfigName="TwoHealthy",
                                      minimumHealthyHosts={"type": "HOST_COUNT", "value": 2})["deploymentConfigId"]
    info = cd.get_deployment_config(deploymentConfigName="TwoHealthy")["deploymentConfigInfo"]
    assert info["deploymentConfigId"] == cid
    assert info["minimumHealthyHosts"] == {"type": "HOST_COUNT", "value": 2}
    assert info["computePlatform"] == "Server"
    assert error_code(cd.create_deployment_config, deploymentConfigName="TwoHealthy",
                      minimumHealthyHosts={"type": "HOST_COUNT", "value": 2}) == "DeploymentConfigAlreadyExistsException"
    zonal = {"firstZoneMonitorDurationInSeconds": 60, "monitorDurationInSeconds": 30,
             "minimumHealthyHostsPerZone": {"type": "FLEET_PERCENT", "value": 10}}
    # zonalConfig is newer than Debian's botocore: send it raw
    r = call(daemon, daemon.admin, "CreateDeploymentConfig",
             {"deploymentConfigName": "Zonal", "zonalConfig": zonal,
              "minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 25}})
    assert r.status == 200, r.body
    r = call(daemon, daemon.admin, "GetDeploymentConfig", {"deploymentConfigName": "Zonal"})
    assert r.json()["deploymentConfigInfo"]["zonalConfig"] == zonal
    cd.create_deployment_config(deploymentConfigName="Canary", computePlatform="Lambda",
                                trafficRoutingConfig=CANARY(20, 7))
    info = cd.get_deployment_config(deploymentConfigName="Canary")["deploymentConfigInfo"]
    assert info["trafficRoutingConfig"] == CANARY(20, 7) and "minimumHealthyHosts" not in info
    for bad, exc in [
        ({"minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 100}}, "InvalidMinimumHealthyHostValueException"),
        ({"minimumHealthyHosts": {"type": "HOST_COUNT", "value": -1}}, "InvalidMinimumHealthyHostValueException"),
        ({"minimumHealthyHosts": {"type": "MOST_CONCURRENCY", "value": 1}}, "InvalidMinimumHealthyHostValueException"),
        ({}, "InvalidMinimumHealthyHostValueException"),
        ({"computePlatform": "Lambda", "trafficRoutingConfig": CANARY(0, 5)},
         "InvalidTrafficRoutingConfigurationException"),
        ({"computePlatform": "ECS", "trafficRoutingConfig": {"type": "Sideways"}},
         "InvalidTrafficRoutingConfigurationException"),
        ({"computePlatform": "Lambda", "minimumHealthyHosts": {"type": "HOST_COUNT", "value": 1}},
         "InvalidMinimumHealthyHostValueException"),
    ]:
        assert error_code(cd.create_deployment_config, deploymentConfigName="Bad", **bad) == exc, bad
    r = call(daemon, daemon.admin, "CreateDeploymentConfig",
             {"deploymentConfigName": "Bad", "computePlatform": "Lambda", "zonalConfig": zonal})
    assert r.error_type == "InvalidZonalDeploymentConfigurationException"
    cd.create_application(applicationName="a")
    cd.create_deployment_group(applicationName="a", deploymentGroupName="g", serviceRoleArn=ROLE,
                               deploymentConfigName="TwoHealthy")
    assert error_code(cd.delete_deployment_config, deploymentConfigName="TwoHealthy") == \
        "DeploymentConfigInUseException"
    cd.delete_deployment_config(deploymentConfigName="Zonal")
    assert error_code(cd.get_deployment_config, deploymentConfigName="Zonal") == \
        "DeploymentConfigDoesNotExistException"


# ---------------------------------------------------------------- deployment groups

FULL_GROUP = {
    "deploymentConfigName": "CodeDeployDefault.HalfAtATime",
    "onPremisesTagSet": {"onPremisesTagSetList": [[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}],
                                                  [{"Key": "role", "Type": "KEY_ONLY"}]]},
    "ec2TagFilters": [{"Key": "Name", "Value": "web", "Type": "KEY_AND_VALUE"}],
    "autoScalingGroups": ["asg-1", "asg-2"],
    "triggerConfigurations": [{"triggerName": "t", "triggerTargetArn": "arn:aws:sns:us-east-1:1:topic",
                               "triggerEvents": ["DeploymentFailure", "InstanceFailure"]}],
    "alarmConfiguration": {"enabled": True, "ignorePollAlarmFailure": False,
                           "alarms": [{"name": "cpu-high"}, {"name": "errors"}]},
    "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]},
    "outdatedInstancesStrategy": "IGNORE",
    "deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
    "blueGreenDeploymentConfiguration": {
        "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE", "terminationWaitTimeInMinutes": 5},
        "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 10},
        "greenFleetProvisioningOption": {"action": "DISCOVER_EXISTING"}},
    "loadBalancerInfo": {"targetGroupInfoList": [{"name": "tg-web"}]},
    "terminationHookEnabled": True,
}


def test_deployment_group_round_trip(daemon, cd):
    cd.create_application(applicationName="shop")
    # terminationHookEnabled is newer than Debian's botocore: send the request raw
    r = call(daemon, daemon.admin, "CreateDeploymentGroup",
             dict(applicationName="shop", deploymentGroupName="prod", serviceRoleArn=ROLE,
                  tags=[{"Key": "team", "Value": "a"}], **FULL_GROUP))
    assert r.status == 200, r.body
    gid = r.json()["deploymentGroupId"]
    # read back with the raw JSON so that members boto3's older model lacks are seen too
    info = call(daemon, daemon.admin, "GetDeploymentGroup",
                {"applicationName": "shop", "deploymentGroupName": "prod"}).json()["deploymentGroupInfo"]
    assert info["deploymentGroupId"] == gid
    assert info["applicationName"] == "shop" and info["deploymentGroupName"] == "prod"
    assert info["serviceRoleArn"] == ROLE
    assert info["computePlatform"] == "Server"
    for k, v in FULL_GROUP.items():
        if k == "autoScalingGroups":
            assert info[k] == [{"name": n} for n in v]
        else:
            assert info[k] == v, k
    tags = cd.list_tags_for_resource(ResourceArn=ARN_GROUP % ("shop", "prod"))["Tags"]
    assert tags == [{"Key": "team", "Value": "a"}]
    # defaults
    cd.create_deployment_group(applicationName="shop", deploymentGroupName="dev", serviceRoleArn=ROLE)
    dev = cd.get_deployment_group(applicationName="shop", deploymentGroupName="dev")["deploymentGroupInfo"]
    assert dev["deploymentConfigName"] == "CodeDeployDefault.OneAtATime"
    assert dev["deploymentStyle"] == {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}
    assert dev["outdatedInstancesStrategy"] == "UPDATE"
    assert sorted(cd.list_deployment_groups(applicationName="shop")["deploymentGroups"]) == ["dev", "prod"]
    got = cd.batch_get_deployment_groups(applicationName="shop", deploymentGroupNames=["dev", "nope"])
    assert [g["deploymentGroupName"] for g in got["deploymentGroupsInfo"]] == ["dev"]
    assert "nope" in got["errorMessage"]


def test_deployment_group_update_and_delete(cd):
    cd.create_application(applicationName="shop")
    cd.create_deployment_group(applicationName="shop", deploymentGroupName="g", serviceRoleArn=ROLE,
                               ec2TagFilters=[{"Key": "a", "Value": "b", "Type": "KEY_AND_VALUE"}])
    cd.tag_resource(ResourceArn=ARN_GROUP % ("shop", "g"), Tags=[{"Key": "k", "Value": "v"}])
    out = cd.update_deployment_group(applicationName="shop", currentDeploymentGroupName="g",
                                     newDeploymentGroupName="g2", deploymentConfigName="CodeDeployDefault.AllAtOnce",
                                     ec2TagSet={"ec2TagSetList": [[{"Key": "x", "Type": "KEY_ONLY"}]]})
    assert out["hooksNotCleanedUp"] == []
    info = cd.get_deployment_group(applicationName="shop", deploymentGroupName="g2")["deploymentGroupInfo"]
    assert info["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
    assert info["ec2TagSet"] == {"ec2TagSetList": [[{"Key": "x", "Type": "KEY_ONLY"}]]}
    assert info["ec2TagFilters"] == []
    assert info["serviceRoleArn"] == ROLE
    assert cd.list_tags_for_resource(ResourceArn=ARN_GROUP % ("shop", "g2"))["Tags"] == [{"Key": "k", "Value": "v"}]
    assert error_code(cd.get_deployment_group, applicationName="shop", deploymentGroupName="g") == \
        "DeploymentGroupDoesNotExistException"
    # an update that leaves the config alone keeps it
    cd.update_deployment_group(applicationName="shop", currentDeploymentGroupName="g2",
                               autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    info = cd.get_deployment_group(applicationName="shop", deploymentGroupName="g2")["deploymentGroupInfo"]
    assert info["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce"
    assert info["autoRollbackConfiguration"] == {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
    assert info["ec2TagSet"] == {"ec2TagSetList": [[{"Key": "x", "Type": "KEY_ONLY"}]]}
    assert error_code(cd.update_deployment_group, applicationName="shop", currentDeploymentGroupName="zz") == \
        "DeploymentGroupDoesNotExistException"
    # renaming the application keeps the group's tags
    cd.update_application(applicationName="shop", newApplicationName="store")
    assert cd.list_tags_for_resource(ResourceArn=ARN_GROUP % ("store", "g2"))["Tags"] == [{"Key": "k", "Value": "v"}]
    assert cd.delete_deployment_group(applicationName="store", deploymentGroupName="g2")["hooksNotCleanedUp"] == []
    assert cd.list_deployment_groups(applicationName="store")["deploymentGroups"] == []


def test_deployment_group_validation(cd):
    cd.create_application(applicationName="a")
    cd.create_application(applicationName="l", computePlatform="Lambda")
    cd.create_application(applicationName="e", computePlatform="ECS")
    base = dict(applicationName="a", deploymentGroupName="g", serviceRoleArn=ROLE)
    cases = [
        ({"applicationName": "ghost"}, "ApplicationDoesNotExistException"),
        ({"deploymentConfigName": "Nope"}, "DeploymentConfigDoesNotExistException"),
        ({"deploymentConfigName": "CodeDeployDefault.LambdaAllAtOnce"}, "InvalidDeploymentConfigNameException"),
        ({"ec2TagFilters": [{"Key": "a", "Value": "b", "Type": "KEY_AND_VALUE"}],
          "ec2TagSet": {"ec2TagSetList": [[{"Key": "c", "Type": "KEY_ONLY"}]]}}, "InvalidEC2TagCombinationException"),
        ({"onPremisesInstanceTagFilters": [{"Key": "a", "Type": "KEY_ONLY"}],
          "onPremisesTagSet": {"onPremisesTagSetList": [[{"Key": "c", "Type": "KEY_ONLY"}]]}},
         "InvalidOnPremisesTagCombinationException"),
        ({"onPremisesTagSet": {"onPremisesTagSetList": [[{"Key": "k%d" % i, "Type": "KEY_ONLY"}] for i in range(4)]}},
         "TagSetListLimitExceededException"),
        ({"alarmConfiguration": {"enabled": True, "alarms": [{"name": "a%d" % i} for i in range(11)]}},
         "AlarmsLimitExceededException"),
        ({"alarmConfiguration": {"enabled": True, "alarms": []}}, "InvalidAlarmConfigException"),
        ({"autoRollbackConfiguration": {"enabled": True, "events": []}}, "InvalidAutoRollbackConfigException"),
        ({"autoRollbackConfiguration": {"enabled": True, "events": ["WHENEVER"]}}, "InvalidAutoRollbackConfigException"),
        ({"triggerConfigurations": [{"triggerName": "t"}]}, "InvalidTriggerConfigException"),
        ({"deploymentStyle": {"deploymentType": "SIDEWAYS"}}, "InvalidDeploymentStyleException"),
        ({"deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"}},
         "InvalidLoadBalancerInfoException"),
        ({"ec2TagFilters": [{"Key": "a", "Type": "VALUE_ONLY"}]}, "InvalidEC2TagException"),
        ({"ecsServices": [{"serviceName": "s", "clusterName": "c"}]}, "InvalidECSServiceException"),
        ({"serviceRoleArn": "not-an-arn"}, "InvalidRoleException"),
        ({"deploymentGroupName": "x" * 101}, "InvalidDeploymentGroupNameException"),
        ({"outdatedInstancesStrategy": "MAYBE"}, "InvalidInputException"),
        ({"applicationName": "e"}, "InvalidECSServiceException"),
        ({"applicationName": "l", "deploymentStyle": {"deploymentType": "IN_PLACE"}},
         "InvalidDeploymentStyleException"),
    ]
    for extra, exc in cases:
        assert error_code(cd.create_deployment_group, **dict(base, **extra)) == exc, extra
    cd.create_deployment_group(**base)
    assert error_code(cd.create_deployment_group, **base) == "DeploymentGroupAlreadyExistsException"
    # Lambda and ECS groups get their platform's defaults
    cd.create_deployment_group(applicationName="l", deploymentGroupName="g", serviceRoleArn=ROLE)
    li = cd.get_deployment_group(applicationName="l", deploymentGroupName="g")["deploymentGroupInfo"]
    assert li["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    assert li["deploymentStyle"] == {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
    cd.create_deployment_group(applicationName="e", deploymentGroupName="g", serviceRoleArn=ROLE,
                               ecsServices=[{"serviceName": "s", "clusterName": "c"}],
                               loadBalancerInfo={"targetGroupPairInfoList": [{
                                   "targetGroups": [{"name": "blue"}, {"name": "green"}],
                                   "prodTrafficRoute": {"listenerArns": ["arn:l1"]}}]})
    assert cd.get_deployment_group(applicationName="e", deploymentGroupName="g")["deploymentGroupInfo"][
        "computePlatform"] == "ECS"


def test_aws_cli_deployment_group_shorthand(aws):
    aws("deploy", "create-application", "--application-name", "cli")
    aws("deploy", "create-deployment-group", "--application-name", "cli", "--deployment-group-name", "g",
        "--service-role-arn", ROLE,
        "--ec2-tag-set", "ec2TagSetList=[[{Key=env,Value=prod,Type=KEY_AND_VALUE}],[{Key=role,Type=KEY_ONLY}]]",
        "--auto-rollback-configuration", "enabled=true,events=DEPLOYMENT_FAILURE",
        "--deployment-style", "deploymentType=IN_PLACE,deploymentOption=WITHOUT_TRAFFIC_CONTROL")
    _, out = aws("deploy", "get-deployment-group", "--application-name", "cli", "--deployment-group-name", "g")
    info = out["deploymentGroupInfo"]
    assert info["ec2TagSet"]["ec2TagSetList"] == [[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}],
                                                  [{"Key": "role", "Type": "KEY_ONLY"}]]
    assert info["autoRollbackConfiguration"] == {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]}
    _, out = aws("deploy", "list-deployment-groups", "--application-name", "cli")
    assert out["deploymentGroups"] == ["g"]


# ---------------------------------------------------------------- tags

def test_resource_tags(cd):
    cd.create_application(applicationName="a", tags=[{"Key": "owner", "Value": "me"}])
    arn = ARN_APP % "a"
    assert cd.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "me"}]
    cd.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "you"}])
    assert cd.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"},
                                                                  {"Key": "owner", "Value": "you"}]
    cd.untag_resource(ResourceArn=arn, TagKeys=["owner"])
    assert cd.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert error_code(cd.tag_resource, ResourceArn=ARN_APP % "ghost", Tags=[{"Key": "k", "Value": "v"}]) == \
        "ApplicationDoesNotExistException"
    assert error_code(cd.list_tags_for_resource, ResourceArn=ARN_GROUP % ("a", "ghost")) == \
        "DeploymentGroupDoesNotExistException"
    assert error_code(cd.list_tags_for_resource, ResourceArn="arn:aws:s3:::bucket") == "InvalidArnException"
    cd.update_application(applicationName="a", newApplicationName="b")
    assert cd.list_tags_for_resource(ResourceArn=ARN_APP % "b")["Tags"] == [{"Key": "env", "Value": "prod"}]
    cd.delete_application(applicationName="b")
    cd.create_application(applicationName="b")
    assert cd.list_tags_for_resource(ResourceArn=ARN_APP % "b")["Tags"] == []


def test_aws_cli_tags(aws):
    aws("deploy", "create-application", "--application-name", "t")
    aws("deploy", "tag-resource", "--resource-arn", ARN_APP % "t", "--tags", "Key=a,Value=1")
    _, out = aws("deploy", "list-tags-for-resource", "--resource-arn", ARN_APP % "t")
    assert out["Tags"] == [{"Key": "a", "Value": "1"}]


def test_model_has_47_operations():
    assert len(model()["operations"]) == 47
