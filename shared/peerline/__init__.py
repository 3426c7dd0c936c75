"""Peerline's domain, its models and the adapters that connect it to AWS and Twilio.

Dependencies point one way: handlers in ``functions/`` → domain modules here → ``peerline.adapters``.
The domain modules never import boto3 or twilio.
"""
