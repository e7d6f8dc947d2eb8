"""Request and response bodies of the churning workloads' longer calls (ECS deploys, SSM
commands, EC2 launches): pure functions of the values they show."""

from __future__ import annotations

from trailmin.synth.churn.state import Churn, Instance
from trailmin.synth.values import MS_HOUR, Record, expiration, response_date

# ---------------------------------------------------------------- ECS: the storefront's deploys


def _definition_arn(ch: Churn) -> str:
    return f"arn:aws:ecs:{ch.region}:{ch.account}:task-definition/web:{ch.revision}"


def task_definition_request(ch: Churn, tag: str) -> Record:
    """Return the request registering the ``web`` task definition for the image ``tag``."""
    a, r = ch.account, ch.region
    container = {
        "name": "web",
        "image": f"{a}.dkr.ecr.{r}.amazonaws.com/storefront-web:{tag}",
        "cpu": 0,
        "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
        "essential": True,
        "environment": [{"name": "NODE_ENV", "value": "production"}],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": ch.storefront.log_group,
                "awslogs-region": r,
                "awslogs-stream-prefix": "ecs",
            },
        },
    }
    return {
        "family": "web",
        "taskRoleArn": ch.web_role.arn,
        "executionRoleArn": ch.exec_role.arn,
        "networkMode": "awsvpc",
        "containerDefinitions": [container],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
    }


def task_definition(ch: Churn, request: Record, *, at: int, registered_by: str) -> Record:
    """Return the task definition ECS registered for ``request``: revision ``ch.revision``."""
    return {
        "taskDefinitionArn": _definition_arn(ch),
        **{k: v for k, v in request.items() if k != "requiresCompatibilities"},
        "revision": ch.revision,
        "volumes": [],
        "status": "ACTIVE",
        "placementConstraints": [],
        "compatibilities": ["EC2", "FARGATE"],
        "requiresCompatibilities": ["FARGATE"],
        "registeredAt": response_date(at),
        "registeredBy": registered_by,
    }


def migration_request(ch: Churn, security_group: str) -> Record:
    """Return the request running the migrations as a one-off task of the latest revision."""
    network = {
        "awsvpcConfiguration": {
            "subnets": list(ch.subnets),
            "securityGroups": [security_group],
            "assignPublicIp": "DISABLED",
        }
    }
    return {
        "cluster": "storefront",
        "count": 1,
        "launchType": "FARGATE",
        "networkConfiguration": network,
        "overrides": {
            "containerOverrides": [{"name": "web", "command": ["npm", "run", "migrate"]}]
        },
        "startedBy": "release",
        "taskDefinition": f"web:{ch.revision}",
    }


def provisioning_task(ch: Churn, task_arn: str, at: int) -> Record:
    """Return a task of the latest revision as RunTask answers it, just created at ``at``."""
    return {
        "taskArn": task_arn,
        "clusterArn": ch.cluster_arn,
        "taskDefinitionArn": _definition_arn(ch),
        "lastStatus": "PROVISIONING",
        "desiredStatus": "RUNNING",
        "launchType": "FARGATE",
        "createdAt": response_date(at),
        "group": "family:web",
        "startedBy": "release",
        "cpu": "512",
        "memory": "1024",
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
    }


def web_service(ch: Churn, deployment_id: str) -> Record:
    """Return the ``web`` service as UpdateService answers it: rolling onto the latest revision."""
    definition = _definition_arn(ch)
    return {
        "serviceArn": f"arn:aws:ecs:{ch.region}:{ch.account}:service/storefront/web",
        "serviceName": "web",
        "clusterArn": ch.cluster_arn,
        "status": "ACTIVE",
        "desiredCount": 3,
        "runningCount": 3,
        "pendingCount": 0,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "taskDefinition": definition,
        "deployments": [
            {
                "id": deployment_id,
                "status": "PRIMARY",
                "taskDefinition": definition,
                "desiredCount": 3,
                "pendingCount": 0,
                "runningCount": 0,
                "launchType": "FARGATE",
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": "ECS deployment ecs-svc in progress.",
            }
        ],
    }


# ---------------------------------------------------------------- EC2 and SSM: the workers


def send_command(command_id: str, ids: list[str], *, at: int, region: str) -> Record:
    """Return SendCommand's answer: the patch baseline run on instances ``ids`` at ``at``."""
    return {
        "command": {
            "commandId": command_id,
            "documentName": "AWS-RunPatchBaseline",
            "documentVersion": "$DEFAULT",
            "comment": "",
            "expiresAfter": expiration(at + MS_HOUR + 600_000),
            "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
            "instanceIds": ids,
            "targets": [],
            "requestedDateTime": expiration(at),
            "status": "Pending",
            "statusDetails": "Pending",
            "outputS3Region": region,
            "outputS3BucketName": "",
            "outputS3KeyPrefix": "",
            "maxConcurrency": "50%",
            "maxErrors": "0",
            "targetCount": len(ids),
            "completedCount": 0,
            "errorCount": 0,
            "deliveryTimedOutCount": 0,
            "serviceRole": "",
            "notificationConfig": {
                "notificationArn": "",
                "notificationEvents": [],
                "notificationType": "",
            },
            "cloudWatchOutputConfig": {
                "cloudWatchLogGroupName": "",
                "cloudWatchOutputEnabled": False,
            },
            "timeoutSeconds": 3600,
            "alarmConfiguration": {"ignorePollAlarmFailure": False, "alarms": []},
            "triggeredAlarms": [],
        }
    }


def run_instances(
    ch: Churn,
    instance: Instance,
    *,
    zone: str,
    at: int,
    token: str,
    request_id: str,
    reservation_id: str,
) -> tuple[Record, Record]:
    """Return the request and the answer of the Auto Scaling group launching ``instance``."""
    tags = {
        "items": [
            {
                "resourceType": "instance",
                "tags": [
                    {"key": "aws:autoscaling:groupName", "value": "workers"},
                    {"key": "Name", "value": "workers"},
                ],
            }
        ]
    }
    request = {
        "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]},
        "blockDeviceMapping": {},
        "availabilityZone": zone,
        "monitoring": {"enabled": False},
        "disableApiTermination": False,
        "disableApiStop": False,
        "clientToken": token,
        "tagSpecificationSet": tags,
        "launchTemplate": {"launchTemplateId": ch.template, "version": "7"},
    }
    item = {
        "instanceId": instance.id,
        "imageId": ch.ami,
        "currentInstanceBootMode": "uefi",
        "instanceState": {"code": 0, "name": "pending"},
        "privateDnsName": f"ip-{instance.ip.replace('.', '-')}.ec2.internal",
        "amiLaunchIndex": 0,
        "productCodes": {},
        "instanceType": "m7g.large",
        "launchTime": at,
        "placement": {"availabilityZone": zone, "tenancy": "default"},
        "monitoring": {"state": "disabled"},
        "subnetId": ch.subnets["abc".index(zone[-1])],
        "vpcId": ch.vpc,
        "privateIpAddress": instance.ip,
        "stateReason": {"code": "pending", "message": "pending"},
        "architecture": "arm64",
        "rootDeviceType": "ebs",
        "rootDeviceName": "/dev/xvda",
        "blockDeviceMapping": {},
        "virtualizationType": "hvm",
        "clientToken": token,
        "tagSet": {"items": tags["items"][0]["tags"]},
        "hypervisor": "xen",
        "ebsOptimized": True,
        "enaSupport": True,
        "metadataOptions": {
            "state": "pending",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 2,
            "httpEndpoint": "enabled",
        },
    }
    response = {
        "requestId": request_id,
        "reservationId": reservation_id,
        "ownerId": ch.account,
        "groupSet": {},
        "instancesSet": {"items": [item]},
    }
    return request, response
