"""Pure builders of the exact boto3 requests, one module per AWS service; nothing here sends."""
