"""GraphQL subscriptions on AWS Lambda: the API Gateway WebSocket API in
graphql-transport-ws (``lambda_ws``), its management API (``apigw``), one operation run
outside a long-lived process (``operations``), and the fan-out of each cycle to the stored
subscriptions (``lambda_fanout``). A long-running server serves subscriptions through
Strawberry's WebSocket view and ``live``'s hub instead.
"""
