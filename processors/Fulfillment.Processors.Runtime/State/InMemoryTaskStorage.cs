namespace Fulfillment.Processors.Runtime.State;

/// <summary>Task storage in memory, for the test driver and fast tests; survives nothing.</summary>
public sealed class InMemoryTaskStorageFactory : ITaskStorageFactory
{
    ITaskStorage ITaskStorageFactory.Open(Topology topology, int partition) => new InMemoryTaskStorage(topology.Stores.Count);
}

/// <summary>Locked: the runtime writes a commit on a background thread while the task reads (as RocksDB allows).</summary>
internal sealed class InMemoryTaskStorage(int storeCount) : ITaskStorage
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<byte[], byte[]>[] _stores =
        [.. Enumerable.Range(0, storeCount).Select(_ => new SortedDictionary<byte[], byte[]>(ByteArrayComparer.Instance))];

    private TaskCheckpoint? _checkpoint;

    public TaskCheckpoint? ReadCheckpoint()
    {
        lock (_lock)
        {
            return _checkpoint;
        }
    }

    public byte[]? Get(int store, byte[] key)
    {
        lock (_lock)
        {
            return _stores[store].TryGetValue(key, out var value) ? value : null;
        }
    }

    public IEnumerable<KeyValuePair<byte[], byte[]>> All(int store)
    {
        lock (_lock)
        {
            return _stores[store].ToList();
        }
    }

    public void Write(IReadOnlyList<IReadOnlyList<StoreWrite>> writesPerStore, TaskCheckpoint checkpoint)
    {
        lock (_lock)
        {
            WriteLocked(writesPerStore, checkpoint);
        }
    }

    private void WriteLocked(IReadOnlyList<IReadOnlyList<StoreWrite>> writesPerStore, TaskCheckpoint checkpoint)
    {
        for (var s = 0; s < writesPerStore.Count; s++)
        {
            foreach (var write in writesPerStore[s])
            {
                if (write.Value is null)
                {
                    _stores[s].Remove(write.Key);
                }
                else
                {
                    _stores[s][write.Key] = write.Value;
                }
            }
        }

        _checkpoint = checkpoint;
    }

    public void Wipe()
    {
        lock (_lock)
        {
            Clear();
        }
    }

    private void Clear()
    {
        foreach (var store in _stores)
        {
            store.Clear();
        }

        _checkpoint = null;
    }

    public void Dispose()
    {
    }
}
