"""AWS stand-ins for the tests: moto_server on 127.0.0.1, and the environment that points at it.

The launcher is the local box's own (localbox.moto), so the tests and `make local` start the
emulator one way. Any suite may call these from its own fixtures:

    with moto_server() as endpoint:
        env = aws_environment(endpoint)   # AWS_ENDPOINT_URL, fake credentials, us-east-1
"""

from localbox.moto import REGION, aws_environment, moto_server

__all__ = ["REGION", "aws_environment", "moto_server"]
