using System.Text;
using RocksDbSharp;

namespace Fulfillment.Processors.Runtime.State;

/// <summary>One RocksDB database per task under <c>{root}/{applicationId}/task-{partition}</c>.</summary>
public sealed class RocksDbTaskStorageFactory(string rootDirectory) : ITaskStorageFactory
{
    public string RootDirectory { get; } = rootDirectory;

    void ITaskStorageFactory.Prepare()
    {
        // Loading librocksdb took seconds on the 2-core box; pay it before joining the group.
        _ = Native.Instance;
    }

    ITaskStorage ITaskStorageFactory.Open(Topology topology, int partition) =>
        new RocksDbTaskStorage(
            Path.Combine(RootDirectory, topology.ApplicationId, $"task-{partition}"),
            [.. topology.Stores.Select(s => s.Name)]);
}

/// <summary>
/// RocksDB storage of one task: a column family per store, the checkpoint in the default family.
/// Why the WAL stays on: data and checkpoint go in one WriteBatch per commit; with the WAL that batch is atomic across a
/// process crash (facts/stream-runtime.md saw offsets ahead of data with the WAL off and no atomic flush). Commits are
/// batched and deduplicated per key, so the WAL's cost is paid once per key per commit, not per record. No fsync:
/// a SIGKILL keeps the OS page cache; a power loss falls back to the changelog.
/// </summary>
internal sealed class RocksDbTaskStorage : ITaskStorage
{
    private static readonly byte[] CheckpointKey = Encoding.UTF8.GetBytes("checkpoint");

    private readonly string _path;
    private readonly string[] _storeNames;
    private readonly WriteOptions _writeOptions = new WriteOptions().SetSync(false).DisableWal(0);
    private RocksDb _db;
    private ColumnFamilyHandle[] _families;
    private ColumnFamilyHandle _meta;

    public RocksDbTaskStorage(string path, string[] storeNames)
    {
        _path = path;
        _storeNames = storeNames;
        (_db, _families, _meta) = OpenDb();
    }

    private (RocksDb Db, ColumnFamilyHandle[] Families, ColumnFamilyHandle Meta) OpenDb()
    {
        Directory.CreateDirectory(_path);
        var options = new DbOptions()
            .SetCreateIfMissing(true)
            .SetCreateMissingColumnFamilies(true);
        // Always open with the full column-family list: CreateColumnFamily on a DB opened without one throws
        // (facts/stream-runtime.md), and opening must also list families a previous version of the topology created.
        var families = new ColumnFamilies();
        var wanted = _storeNames.Select(FamilyName).ToHashSet(StringComparer.Ordinal);
        if (File.Exists(Path.Combine(_path, "CURRENT")))
        {
            foreach (var existing in RocksDb.ListColumnFamilies(options, _path))
            {
                wanted.Add(existing);
            }
        }

        foreach (var name in wanted.Where(n => n != ColumnFamilies.DefaultName))
        {
            families.Add(name, new ColumnFamilyOptions());
        }

        var db = RocksDb.Open(options, _path, families);
        return (db, [.. _storeNames.Select(n => db.GetColumnFamily(FamilyName(n)))], db.GetDefaultColumnFamily());
    }

    private static string FamilyName(string store) => "store-" + store;

    public TaskCheckpoint? ReadCheckpoint() =>
        _db.Get(CheckpointKey, _meta) is { } bytes ? TaskCheckpoint.Deserialize(bytes) : null;

    public byte[]? Get(int store, byte[] key) => _db.Get(key, _families[store]);

    public IEnumerable<KeyValuePair<byte[], byte[]>> All(int store)
    {
        using var iterator = _db.NewIterator(_families[store]);
        for (iterator.SeekToFirst(); iterator.Valid(); iterator.Next())
        {
            yield return new KeyValuePair<byte[], byte[]>(iterator.Key(), iterator.Value());
        }
    }

    public void Write(IReadOnlyList<IReadOnlyList<StoreWrite>> writesPerStore, TaskCheckpoint checkpoint)
    {
        using var batch = new WriteBatch();
        for (var s = 0; s < writesPerStore.Count; s++)
        {
            foreach (var write in writesPerStore[s])
            {
                if (write.Value is null)
                {
                    batch.Delete(write.Key, _families[s]);
                }
                else
                {
                    batch.Put(write.Key, write.Value, _families[s]);
                }
            }
        }

        batch.Put(CheckpointKey, checkpoint.Serialize(), _meta);
        _db.Write(batch, _writeOptions);
    }

    public void Wipe()
    {
        _db.Dispose();
        Directory.Delete(_path, recursive: true);
        (_db, _families, _meta) = OpenDb();
    }

    public void Dispose() => _db.Dispose();
}
