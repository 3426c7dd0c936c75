"""Adapters: the only code that talks to AWS (boto3) and Twilio. Each turns library errors into domain errors."""
