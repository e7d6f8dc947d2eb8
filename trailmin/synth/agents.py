"""User agents, as the SDKs, the CLI, the console and AWS's agents send them."""

from __future__ import annotations

# User agents, as the SDKs, the CLI and the console send them.
UA_LAMBDA = (
    "aws-sdk-js/3.632.0 ua/2.1 os/linux#5.10.227-239.884.amzn2.x86_64 lang/js md/nodejs#20.18.0 "
    "api/{service}#3.632.0 exec-env/AWS_Lambda_nodejs20.x"
)
UA_ECS = (
    "aws-sdk-js/3.675.0 ua/2.1 os/linux#5.10.227-219.884.amzn2.x86_64 lang/js md/nodejs#20.18.0 "
    "api/{service}#3.675.0 m/E,N exec-env/AWS_ECS_FARGATE"
)
UA_GITHUB = (
    "aws-sdk-js/3.670.0 ua/2.1 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.18.0 "
    "api/{service}#3.670.0 m/E configure-aws-credentials-for-github-actions"
)
UA_CLI = (
    "aws-cli/2.18.5 md/awscrt#0.22.0 ua/2.0 os/linux#6.5.0-1025-azure md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#ubuntu.22 md/prompt#off md/command#{command}"
)
UA_BATCH = (
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.6 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0"
)
UA_EXPORT = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
    "cfg/retry-mode#legacy Botocore/1.34.145"
)
UA_INTRUDER = (
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 "
    "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
    "md/distrib#kali.2024 md/prompt#off md/command#{command}"
)
UA_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36"
)
UA_FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
UA_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0"
)
UA_S3_CONSOLE = (
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 "
    "Linux/5.10.225-191.880.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.422-b05 java/1.8.0_422 "
    "vendor/Oracle_Corporation cfg/retry-mode/standard]"
)
INTERNAL = "AWS Internal"

UA_LAMBDA_WORKER = "awslambda-worker/1.0 rusoto/0.48.0 rust/1.79.0 linux"
UA_FARGATE = "aws-sdk-go/1.51.21 (go1.21.9; linux; amd64) amazon-ecs-agent/1.82.4 (fargate)"
UA_CW_AGENT = "aws-sdk-go/1.48.6 (go1.22.5; linux; arm64) amazon-cloudwatch-agent/1.300049.1"
UA_SSM_AGENT = "aws-sdk-go/1.44.260 (go1.22.5; linux; arm64) amazon-ssm-agent/3.3.987.0"
UA_WORKER = (
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#6.1.109-118.189.amzn2023.aarch64 "
    "md/arch#aarch64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy "
    "Botocore/1.35.36"
)
# A third party's scanner (the vendor's audit), in Go.
UA_VENDOR = (
    "aws-sdk-go-v2/1.30.3 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 "
    "api/{service}#1.30.3 cloudaudit-scanner/4.2.1"
)
