import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * A moto server (the AWS emulator) on a free loopback port: one per test run, benchmark or
 * local runtime. Tests isolate themselves by table name and region, so they can share it.
 *
 * It serves one request at a time. moto applies a DynamoDB transaction item by item and, on a
 * failed condition, restores a snapshot of the whole table taken before it started; two
 * transactions running at once on its threads therefore undo each other's writes, which real
 * DynamoDB never does (transactions are serializable). Serving requests one by one gives each
 * request DynamoDB's atomicity while the actors in a test still interleave between requests,
 * which is where FleetOps' races live.
 */
const ONE_AT_A_TIME = [
  'import sys, moto, moto.server as s',
  'run = s.run_simple',
  's.run_simple = lambda *a, **k: run(*a, **{**k, "threaded": False})',
];

/**
 * Where moto's time goes in a long test run, removed without changing any answer: the same
 * requests get the same responses, byte for byte, and leave the same tables (checked against
 * plain moto on random sequences of writes, failing transactions, queries and pages). Written
 * against moto 5.2's internals: under any other minor version the server runs as plain moto.
 * On the workflow tests it takes the server's CPU time per file to between a third and a fifth.
 */
const SPEEDUPS = `
import copy, functools, logging
import moto.backends as backends
from moto.dynamodb import models as ddb
from moto.dynamodb.models.table import Table

# No line on stderr per request: the parent reads stderr for start-up errors only.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

# moto lists its service packages from the disk on every request: once is enough.
backends.list_of_moto_modules = functools.lru_cache(maxsize=None)(
    lambda _list=backends.list_of_moto_modules: tuple(_list())
)

# TransactWriteItems: moto deep-copies the whole table once per item of the transaction, to put
# the copy back if an item fails; with a table that holds a test file's audit and wave records
# that was most of the server's time. Instead, the items the transaction names are recorded
# (a copy of each, and its partition's order) and, on any failure, put back as they were: with
# one request at a time, nothing else in a table changes during a transaction, so the table ends
# exactly as moto's copy would leave it. Anything unusual (a stream on the table, an entry
# that is not one well-formed operation) keeps moto's own copy.
class _Copy:
    tables_by_undo = False

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, x, *args, **kwargs):
        if self.tables_by_undo and isinstance(x, Table):
            return x
        return copy.deepcopy(x, *args, **kwargs)


_copy = _Copy()
ddb.copy = _copy
_transact = ddb.DynamoDBBackend.transact_write_items


def _undo_record(backend, transact_items):
    record = []
    for entry in transact_items:
        if len(entry) != 1:
            return None
        op_type, op = next(iter(entry.items()))
        if op_type not in ("ConditionCheck", "Put", "Delete", "Update"):
            return None
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        if table.stream_shard is not None:
            return None
        key = op["Item"] if op_type == "Put" else op["Key"]
        hash_key = ddb.DynamoType(key[table.hash_key_attr])
        if table.range_key_attr is None:
            item = table.items.get(hash_key)
            order = list(table.items) if item is not None else None
            record.append((table, hash_key, None, True, copy.deepcopy(item), order))
            continue
        range_key = ddb.DynamoType(key[table.range_key_attr])
        partition = table.items.get(hash_key)
        if partition is None:
            record.append((table, hash_key, range_key, False, None, None))
            continue
        item = partition.get(range_key)
        order = list(partition) if item is not None else None
        record.append((table, hash_key, range_key, True, copy.deepcopy(item), order))
    return record


def _reorder(mapping, order):
    ordered = {k: mapping[k] for k in order if k in mapping}
    ordered.update((k, v) for k, v in mapping.items() if k not in ordered)
    mapping.clear()
    mapping.update(ordered)


def _undo(record):
    for table, hash_key, range_key, had_partition, item, order in reversed(record):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                moved = hash_key not in table.items
                table.items[hash_key] = item
                if moved:
                    _reorder(table.items, order)
            continue
        partition = table.items.get(hash_key)
        if item is None:
            if partition is not None:
                partition.pop(range_key, None)
                if not had_partition and not partition:
                    del table.items[hash_key]
            continue
        moved = range_key not in partition
        partition[range_key] = item
        if moved:
            _reorder(partition, order)


def transact_write_items(self, transact_items):
    try:
        record = _undo_record(self, transact_items)
    except Exception:
        record = None
    if record is None:
        return _transact(self, transact_items)
    _copy.tables_by_undo = True
    try:
        return _transact(self, transact_items)
    except BaseException:
        _undo(record)
        raise
    finally:
        _copy.tables_by_undo = False


ddb.DynamoDBBackend.transact_write_items = transact_write_items

# Query: moto sorts every item of the table (comparing typed values), then keeps those with the
# query's key. Here the items offered are already those that can match: on the table's key its
# partition (whose order moto's sort by the range key then fixes), on an index the items whose
# string key attributes equal the query's (moto checks them again, and sorts them by the index's
# and the table's keys: an order of its own, whatever the order offered). An index's items are
# grouped by key value once and the groups kept until the next request that is not a DynamoDB
# read (a fleet listing is one query per shard, one after the other); any other request drops
# them, so a group never outlives a write.
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_READS = {"GetItem", "BatchGetItem", "Query", "TransactGetItems", "DescribeTable"}
_groups = {}
_dispatch = DomainDispatcherApplication.__call__


def _call(self, environ, start_response):
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    service, _, action = target.partition(".")
    if not (service.startswith("DynamoDB_") and action in _READS):
        _groups.clear()
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _call
_query = Table.query
_all_items = Table.all_items


def query(self, hash_key, *args, **kwargs):
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name:
        self._query_keys = ("index", kwargs.get("hash_key_conditions") or [])
    elif hash_key is not None:
        self._query_keys = ("table", hash_key)
    else:
        return _query(self, hash_key, *args, **kwargs)
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        del self._query_keys


def _items_in_order(table):
    for hash_set in table.items.values():
        if table.range_key_attr:
            yield from hash_set.values()
        else:
            yield hash_set


def all_items(self):
    keys = getattr(self, "_query_keys", None)
    if keys is None:
        return _all_items(self)
    kind, value = keys
    if kind == "table":
        partition = self.items.get(value)
        if partition is None:
            return []
        return list(partition.values()) if self.range_key_attr else [partition]
    exact = [(name, v.value) for name, v in value if v.type == "S"]
    if not exact:
        return list(_items_in_order(self))
    names = tuple(name for name, _ in exact)
    cached = _groups.get((id(self), names))
    if cached is None or cached[0] is not self:
        groups = {}
        for item in _items_in_order(self):
            found = []
            for name in names:
                got = item.attrs.get(name)
                if got is None or got.type != "S":
                    break
                found.append(got.value)
            else:
                groups.setdefault(tuple(found), []).append(item)
        cached = _groups[(id(self), names)] = (self, groups)
    return list(cached[1].get(tuple(v for _, v in exact), ()))


Table.query = query
Table.all_items = all_items

# Responses: moto's serializer walks the API model for every value of every item (each of an
# attribute value's ten members looked up under several aliases): most of its time for a query
# of the fleet. An attribute value already in the wire's form (one of S, N, SS, NS, BOOL, NULL,
# or M and L made of such) is what that walk returns; it is written as it is. Binary values and
# anything else take moto's walk.
from moto.core import serialize as _serialize

_PLAIN = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def _plain(value):
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in _PLAIN:
        return type(inner) is _PLAIN[kind]
    if kind in ("SS", "NS"):
        return type(inner) is list and all(type(v) is str for v in inner)
    if kind == "M":
        return type(inner) is dict and all(type(k) is str and _plain(v) for k, v in inner.items())
    if kind == "L":
        return type(inner) is list and all(_plain(v) for v in inner)
    return False


_structure = _serialize.BaseJSONSerializer._serialize_type_structure


def _serialize_type_structure(self, serialized, value, shape, key):
    if (
        key
        and shape.name == "AttributeValue"
        and self.operation_model.service_model.service_name == "dynamodb"
        and not getattr(self._value_picker, "response_transformers", None)
        and _plain(value)
    ):
        self._default_serialize(serialized, value, shape, key)
        return
    _structure(self, serialized, value, shape, key)


_serialize.BaseJSONSerializer._serialize_type_structure = _serialize_type_structure

`;

/** moto, one request at a time, with the {@link SPEEDUPS} where its version is the one they were written for. */
export const LAUNCHER = [
  ...ONE_AT_A_TIME,
  `if tuple(int(p) for p in moto.__version__.split(".")[:2]) == (5, 2): exec(${JSON.stringify(SPEEDUPS)})`,
  's.main(sys.argv[1:])',
].join('\n');

/** moto as it comes, one request at a time: what the {@link LAUNCHER}'s answers are held to. */
export const PLAIN_LAUNCHER = [...ONE_AT_A_TIME, 's.main(sys.argv[1:])'].join('\n');

export interface MotoServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startMotoServer(launcher = LAUNCHER): Promise<MotoServer> {
  let installed = false;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn('python3', ['-c', launcher, '-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: false,
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr = (stderr + String(chunk)).slice(-20_000);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    if (await waitUntilReady(endpoint, child)) {
      return { endpoint, stop: () => stop(child) };
    }
    await stop(child);
    // Installed only when missing (asking python whether it is there costs seconds on every run).
    if (!installed && /No module named/.test(stderr)) {
      installMoto();
      installed = true;
      continue;
    }
    if (!/address already in use/i.test(stderr)) throw new Error(`moto_server did not start:\n${stderr}`);
  }
  throw new Error('moto_server: no free port after 5 attempts');
}

function installMoto(): void {
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', 'moto[server]'], { stdio: 'inherit' });
  if (pip.status !== 0) {
    throw new Error(
      'moto_server is missing and `pip install "moto[server]"` failed: install moto[server] first',
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilReady(endpoint: string, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  });
}
