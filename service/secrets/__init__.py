"""`python -m service.secrets`: the box's secrets from SSM into the files their readers take.

Run as root by onebox-secrets.service (every minute, and once at boot before the web service
and nginx): the API token and the origin header's secret, both SSM SecureStrings, become
`contract.API_TOKEN_FILE` and the nginx map `contract.ORIGIN_MAP_FILE`; the optional Sentry DSN
becomes `contract.SENTRY_DSN_FILE` while its parameter exists (none: no file). A file is rewritten,
atomically, only when its text changes, and only then is its reader reloaded. No secret is ever
logged. The stack and region come from the bootstrap's root-owned file, never from the env file
the deploy agent may write.
"""
