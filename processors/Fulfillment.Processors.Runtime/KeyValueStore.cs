using Fulfillment.Processors.Runtime.State;

namespace Fulfillment.Processors.Runtime;

/// <summary>A task-local key-value store. Writes become durable (locally and in the changelog) at the next commit,
/// together with the input offsets they reflect; a handler that throws leaves none of its writes behind.</summary>
public interface IKeyValueStore<TKey, TValue>
{
    bool TryGet(TKey key, out TValue value);

    /// <summary>The stored value, or <paramref name="defaultValue"/> when the key is absent.</summary>
    TValue GetOrDefault(TKey key, TValue defaultValue);

    void Put(TKey key, TValue value);

    void Delete(TKey key);

    /// <summary>Every entry of this task's store in the key serde's byte order (a snapshot; safe to modify while iterating).</summary>
    IReadOnlyList<KeyValuePair<TKey, TValue>> All();
}

/// <summary>The byte-level store of one task: per-record writes (rolled back if the handler throws) over the writes
/// since the last commit (deduplicated per key) over the writes of a commit still in flight over the task's durable
/// storage.</summary>
internal sealed class StoreCache(int index, ITaskStorageAccessor storage)
{
    // Per-record writes: usually a handful, but one record may write thousands (a snapshot deleting the log it covers).
    // Dictionary.Clear zeroes the whole bucket array, so a layer that once grew large made every later record pay for
    // its capacity (a tenth of the inventory processor's thread time); a large layer is replaced instead of cleared.
    private const int ReuseLimit = 64;
    private Dictionary<byte[], byte[]?> _pending = new(ByteArrayComparer.Instance);

    public int Index { get; } = index;

    /// <summary>Writes accepted since the last commit was prepared.</summary>
    public Dictionary<byte[], byte[]?> Dirty { get; private set; } = new(ByteArrayComparer.Instance);

    /// <summary>Writes of a prepared commit that storage does not hold yet (the commit is still making its changelog
    /// records and local write durable); reads see them until the commit completes.</summary>
    public Dictionary<byte[], byte[]?>? Committing { get; private set; }

    public byte[]? Get(byte[] key)
    {
        if (_pending.TryGetValue(key, out var pending))
        {
            return pending;
        }

        if (Dirty.TryGetValue(key, out var dirty))
        {
            return dirty;
        }

        if (Committing is { } committing && committing.TryGetValue(key, out var inFlight))
        {
            return inFlight;
        }

        return storage.Storage.Get(Index, key);
    }

    public void Put(byte[] key, byte[]? value) => _pending[key] = value;

    public IReadOnlyList<KeyValuePair<byte[], byte[]>> All()
    {
        var merged = new SortedDictionary<byte[], byte[]?>(ByteArrayComparer.Instance);
        foreach (var (key, value) in storage.Storage.All(Index))
        {
            merged[key] = value;
        }

        foreach (var layer in (ReadOnlySpan<Dictionary<byte[], byte[]?>?>)[Committing, Dirty, _pending])
        {
            if (layer is null)
            {
                continue;
            }

            foreach (var (key, value) in layer)
            {
                merged[key] = value;
            }
        }

        return [.. merged.Where(p => p.Value is not null).Select(p => new KeyValuePair<byte[], byte[]>(p.Key, p.Value!))];
    }

    public void AcceptPending()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        foreach (var (key, value) in _pending)
        {
            Dirty[key] = value;
        }

        ClearPending();
    }

    public void RejectPending() => ClearPending();

    private void ClearPending()
    {
        if (_pending.Count > ReuseLimit)
        {
            _pending = new Dictionary<byte[], byte[]?>(ByteArrayComparer.Instance);
        }
        else if (_pending.Count > 0)
        {
            _pending.Clear();
        }
    }

    /// <summary>Moves the writes since the last commit into the in-flight layer and returns them. Only one commit may be
    /// in flight: the previous one must have completed.</summary>
    public IReadOnlyList<StoreWrite> BeginCommit()
    {
        if (Committing is not null)
        {
            throw new InvalidOperationException("A commit is already in flight for this store.");
        }

        var writes = new StoreWrite[Dirty.Count];
        var i = 0;
        foreach (var (key, value) in Dirty)
        {
            writes[i++] = new StoreWrite(key, value);
        }

        Committing = Dirty;
        Dirty = new Dictionary<byte[], byte[]?>(ByteArrayComparer.Instance);
        return writes;
    }

    /// <summary>The in-flight commit is in storage now: reads go there.</summary>
    public void EndCommit() => Committing = null;

    /// <summary>Forgets every write not in storage (after a restore, a rebuild or a dropped commit).</summary>
    public void Reset()
    {
        _pending = new Dictionary<byte[], byte[]?>(ByteArrayComparer.Instance);
        Dirty = new Dictionary<byte[], byte[]?>(ByteArrayComparer.Instance);
        Committing = null;
    }
}

/// <summary>Lets a store cache follow the task's storage when it is replaced (wipe/rebuild).</summary>
internal interface ITaskStorageAccessor
{
    ITaskStorage Storage { get; }
}

internal sealed class KeyValueStore<TKey, TValue>(StoreCache cache, StoreHandle<TKey, TValue> handle) : IKeyValueStore<TKey, TValue>
{
    public bool TryGet(TKey key, out TValue value)
    {
        if (cache.Get(SerializeKey(key)) is { } bytes)
        {
            value = handle.ValueSerde.Deserialize(bytes);
            return true;
        }

        value = default!;
        return false;
    }

    public TValue GetOrDefault(TKey key, TValue defaultValue) => TryGet(key, out var value) ? value : defaultValue;

    public void Put(TKey key, TValue value) =>
        cache.Put(SerializeKey(key), handle.ValueSerde.Serialize(value)
            ?? throw new ArgumentException($"Store '{handle.Name}' cannot hold a value that serializes to null; use Delete.", nameof(value)));

    public void Delete(TKey key) => cache.Put(SerializeKey(key), null);

    public IReadOnlyList<KeyValuePair<TKey, TValue>> All() =>
        [.. cache.All().Select(p => new KeyValuePair<TKey, TValue>(handle.KeySerde.Deserialize(p.Key), handle.ValueSerde.Deserialize(p.Value)))];

    private byte[] SerializeKey(TKey key) =>
        handle.KeySerde.Serialize(key) ?? throw new ArgumentException($"Store '{handle.Name}' keys cannot serialize to null.", nameof(key));
}
