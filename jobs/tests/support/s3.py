"""S3 helpers for the tests, against the S3-compatible server at $AWS_ENDPOINT.

    s3.py create BUCKET...        create buckets
    s3.py upload DIR BUCKET       put every file under DIR at its relative path
    s3.py download BUCKET DIR     get every object of BUCKET into DIR
    s3.py put BUCKET KEY TEXT     put TEXT at KEY, the key as it is (`..` segments included)
    s3.py delete BUCKET KEY       delete KEY
"""
import os
import sys

import boto3

s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["AWS_ENDPOINT"],
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    region_name=os.environ["AWS_REGION"],
)
command, args = sys.argv[1], sys.argv[2:]
if command == "create":
    for bucket in args:
        s3.create_bucket(Bucket=bucket)
elif command == "upload":
    root, bucket = args
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            s3.upload_file(path, bucket, os.path.relpath(path, root))
elif command == "download":
    bucket, root = args
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            path = os.path.join(root, item["Key"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s3.download_file(bucket, item["Key"], path)
elif command == "put":
    bucket, key, body = args
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
elif command == "delete":
    bucket, key = args
    s3.delete_object(Bucket=bucket, Key=key)
else:
    sys.exit(f"unknown command {command}")
