"""`peerline dashboard publish --stack NAME`: upload dashboard/ to the stack's bucket and refresh CloudFront."""

from __future__ import annotations

import argparse
import mimetypes
import time
from pathlib import Path
from typing import Any

from peerline_local.paths import project_root


def publish(session: Any, stack_name: str, folder: Path) -> tuple[str, int]:
    """Upload every file of ``folder``; returns the dashboard URL and the number of files."""
    stack = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs") or []}
    bucket, url = outputs["DashboardBucketName"], outputs["DashboardUrl"]
    s3 = session.client("s3")
    files = [path for path in sorted(folder.rglob("*")) if path.is_file() and path.name != "config.json"]
    for path in files:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix == ".js":
            content_type = "text/javascript"
        s3.upload_file(
            str(path),
            bucket,
            path.relative_to(folder).as_posix(),
            ExtraArgs={"ContentType": content_type, "CacheControl": "no-cache"},
        )
    distribution = next(
        (
            resource["PhysicalResourceId"]
            for resource in session.client("cloudformation").describe_stack_resources(StackName=stack_name)[
                "StackResources"
            ]
            if resource["LogicalResourceId"] == "DashboardDistribution"
        ),
        None,
    )
    if distribution:
        session.client("cloudfront").create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time())},
        )
    return url, len(files)


def run(args: argparse.Namespace) -> int:
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    url, count = publish(session, args.stack, project_root() / "dashboard")
    print(f"published {count} files; the dashboard is at {url}")
    return 0


def add_commands(commands: Any) -> None:
    dashboard = commands.add_parser("dashboard", help="the volunteer dashboard on a deployed stack")
    actions = dashboard.add_subparsers(dest="dashboard_command", required=True)
    publish_parser = actions.add_parser("publish", help="upload dashboard/ to the stack's bucket, refresh CloudFront")
    publish_parser.add_argument("--stack", required=True)
    publish_parser.add_argument("--region")
    publish_parser.add_argument("--profile")
    publish_parser.set_defaults(run=run)
