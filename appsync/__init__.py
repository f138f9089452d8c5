"""GraphQL on AWS AppSync: the AppSync schema generated from the Strawberry one (``sdl``),
the direct Lambda resolver that runs the Strawberry schema for AppSync (``resolver``), and
the Lambda authorizer that checks API keys against the key store (``authorizer``).
"""
