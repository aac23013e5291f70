"""What stands in for AWS: no test here reaches a real account (fake credentials, a local moto
server, or clients whose answers are canned), and what we send is held to botocore's models.

- ``server``: moto on 127.0.0.1 over HTTPS + the boto3 env fixtures (the AWS APIs moto has)
- ``emr``: ``FakeEmr``, clusters and steps that advance per poll (moto's EMR never finishes a step)
- ``stubbed``: ``StubbedAws``, botocore ``Stubber`` clients (EMR Studio, Price List: not in moto)
- ``cli``: ``bigfruits aws`` as typed, no sleeping, a fixed caller IP, scripted confirmations
- ``model``: requests checked against botocore's service models (what AWS itself would accept)
- ``studio_context``: an ``AwsContext`` around a sender and Studio settings, without the CLI
"""
