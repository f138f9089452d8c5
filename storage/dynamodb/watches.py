"""Watched aircraft (``WatchRepository``) in the DynamoDB ops table's single-table layout
(``storage/dynamodb/tables.py``):

| item  | pk          | sk     | attributes                                             |
|-------|-------------|--------|--------------------------------------------------------|
| watch | WATCH#field | icao24 | until (N, epoch seconds), expires_at (the table's TTL) |

One partition per subscription field holds its watches: ``watched`` is one query. A
later watch extends an earlier one (the update keeps the greater ``until``); DynamoDB's TTL
deletes a watch a day after it ran out, and the query skips those not yet deleted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from storage.dynamodb._client import ConditionFailed, Dynamo, DynamoClientProtocol
from storage.dynamodb._states import number
from storage.dynamodb.tables import TTL_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

_TTL_MARGIN_S = 86_400


class DynamoWatchRepository:
    """``WatchRepository`` on the ops table. Thread-safe (botocore clients are)."""

    def __init__(self, client: DynamoClientProtocol, table: str) -> None:
        self._dynamo = Dynamo(client, workers=1)
        self._client = client
        self._table = table

    def watch(self, field: str, icao24s: Sequence[str], until: datetime) -> None:
        for icao24 in icao24s:
            self._watch(field, icao24, until)

    def _watch(self, field: str, icao24: str, until: datetime) -> None:
        end = until.timestamp()
        with contextlib.suppress(ConditionFailed):  # watched as long or longer already
            self._dynamo.call(
                self._client.update_item,
                TableName=self._table,
                Key={"pk": {"S": f"WATCH#{field}"}, "sk": {"S": icao24}},
                UpdateExpression="SET #until = :until, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#until) OR #until < :until",
                ExpressionAttributeNames={"#until": "until", "#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":until": {"N": number(end)},
                    ":ttl": {"N": str(int(end) + _TTL_MARGIN_S)},
                },
            )

    def watched(self, field: str, now: datetime) -> set[str]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "#until > :now",
            "ExpressionAttributeNames": {"#until": "until"},
            "ExpressionAttributeValues": {
                ":pk": {"S": f"WATCH#{field}"},
                ":now": {"N": number(now.timestamp())},
            },
            "ProjectionExpression": "sk",
        }
        return {item["sk"]["S"] for item in self._dynamo.query(request)}

    def close(self) -> None:
        self._dynamo.close()
