"""Two costs of moto's DynamoDB that grow with the whole table, where DynamoDB's grow with what a request touches.
With a thousand jobs queued, the admission table holds two thousand items, and these two made the local stack, not
the provider, the bottleneck (py-spy, ``make bench-scale N=1000``: 58 % of the time the stack held the GIL):

- a Query on a table's own key sorts every item of every partition, then keeps the partition asked for; here it
  reads that partition only (an index query is left as it is);
- a transaction first deep-copies every table it writes to, to put the copy back if a condition fails; here it
  keeps a copy of the items it writes to (or notes their absence) and, if it is refused, puts exactly those back,
  which leaves the same state. That is only sound because no other request runs meanwhile
  (``dynamodb_atomicity``), and only done for tables without a stream (a stream's records are not undone).

Patches moto 5.2.x (checked with 5.2.5), which lacks this: a key Query reads every partition and a transaction
deep-copies whole tables. ``tests/integration/test_moto_upstream.py``
(test_dynamodb_costs_a_key_query_reads_every_partition) fails once an upgrade brings it; then this module goes.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

from .patching import replace

_EVERY_PARTITION = object()
_partition: ContextVar[Any] = ContextVar("partition", default=_EVERY_PARTITION)
Key = tuple[DynamoType, DynamoType | None]


@dataclass
class _Transaction:
    """The running transaction's keys per table, and what they held before it (None: no item)."""

    keys: dict[str, list[Key]]
    undo: dict[str, list[tuple[Key, Any]]] = field(default_factory=dict)


_transaction: ContextVar[_Transaction | None] = ContextVar("transaction", default=None)


def install_dynamodb_shortcuts() -> Callable[[], None]:
    original_all_items = Table.all_items
    original_query = Table.query
    original_transact = DynamoDBBackend.transact_write_items
    query_signature = inspect.signature(original_query)

    def all_items(table: Any) -> list[Any]:
        hash_key = _partition.get()
        if hash_key is _EVERY_PARTITION:
            return original_all_items(table)
        found = table.items.get(hash_key)
        if found is None:
            return []
        return list(found.values()) if table.range_key_attr else [found]

    def query(table: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = query_signature.bind(table, *args, **kwargs).arguments
        own_key = arguments.get("index_name") is None and arguments.get("hash_key") is not None
        token = _partition.set(arguments["hash_key"] if own_key else _EVERY_PARTITION)
        try:
            return original_query(table, *args, **kwargs)
        finally:
            _partition.reset(token)

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        transaction = _Transaction(keys=_written_keys(backend, transact_items))
        token = _transaction.set(transaction)
        try:
            original_transact(backend, transact_items)
        except BaseException:
            for table_name, entries in transaction.undo.items():
                _restore(backend.tables[table_name], entries)
            raise
        finally:
            _transaction.reset(token)

    return replace(
        (Table, "all_items", all_items),
        (Table, "query", query),
        (Table, "__deepcopy__", _table_deepcopy),
        (DynamoDBBackend, "transact_write_items", transact_write_items),
    )


def _written_keys(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, list[Key]]:
    keys: dict[str, list[Key]] = {}
    for entry in transact_items:
        for operation_type, operation in entry.items():
            table = backend.tables.get(operation.get("TableName", ""))
            key = operation.get("Item") if operation_type == "Put" else operation.get("Key")
            if table is None or not isinstance(key, dict) or table.hash_key_attr not in key:
                continue
            range_value = key.get(table.range_key_attr) if table.range_key_attr else None
            keys.setdefault(table.name, []).append(
                (DynamoType(key[table.hash_key_attr]), DynamoType(range_value) if range_value else None)
            )
    return keys


def _table_deepcopy(table: Any, memo: dict[int, Any]) -> Any:
    """The backup a transaction takes: the table itself, with an undo entry per key it writes (see the module)."""
    transaction = _transaction.get()
    keys = None if transaction is None else transaction.keys.get(table.name)
    if transaction is None or keys is None or table.stream_shard is not None:
        return copy._reconstruct(table, memo, *table.__reduce_ex__(4))  # type: ignore[attr-defined]
    transaction.undo[table.name] = [(key, copy.deepcopy(table.get_item(*key))) for key in keys]
    return table


def _restore(table: Any, entries: list[tuple[Key, Any]]) -> None:
    for (hash_key, range_key), item in reversed(entries):
        if table.range_key_attr:
            partition = table.items.get(hash_key, {})
            if item is None:
                partition.pop(range_key, None)
            else:
                partition[range_key] = item
            if partition:
                table.items[hash_key] = partition
            else:
                table.items.pop(hash_key, None)
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
