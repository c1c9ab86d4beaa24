using System.Text;

namespace Fulfillment.Processors.Runtime.State;

/// <summary>
/// What a task's state reflects: the next input offset per input topic, the changelog position per store (next offset
/// to read), the stream time and a commit sequence number. Stored in the same atomic write as the data it describes,
/// and carried by the changelog marker that closes each commit, so state and offsets can never disagree.
/// </summary>
internal sealed record TaskCheckpoint(
    IReadOnlyDictionary<string, long> InputOffsets,
    IReadOnlyDictionary<string, long> ChangelogPositions,
    long StreamTimeMs,
    long CommitSequence)
{
    private const byte FormatVersion = 1;

    public static TaskCheckpoint Empty { get; } = new(
        new Dictionary<string, long>(), new Dictionary<string, long>(), long.MinValue, 0);

    public byte[] Serialize()
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(FormatVersion);
            WriteMap(writer, InputOffsets);
            WriteMap(writer, ChangelogPositions);
            writer.Write(StreamTimeMs);
            writer.Write(CommitSequence);
        }

        return buffer.ToArray();
    }

    public static TaskCheckpoint Deserialize(byte[] data)
    {
        using var reader = new BinaryReader(new MemoryStream(data), Encoding.UTF8);
        var version = reader.ReadByte();
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Unknown task checkpoint format {version}.");
        }

        var inputs = ReadMap(reader);
        var changelogs = ReadMap(reader);
        return new TaskCheckpoint(inputs, changelogs, reader.ReadInt64(), reader.ReadInt64());
    }

    private static void WriteMap(BinaryWriter writer, IReadOnlyDictionary<string, long> map)
    {
        writer.Write(map.Count);
        foreach (var (key, value) in map.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            writer.Write(key);
            writer.Write(value);
        }
    }

    private static Dictionary<string, long> ReadMap(BinaryReader reader)
    {
        var count = reader.ReadInt32();
        var map = new Dictionary<string, long>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            map[reader.ReadString()] = reader.ReadInt64();
        }

        return map;
    }
}

/// <summary>A put (Value non-null) or delete (Value null) of one key in one store.</summary>
internal readonly record struct StoreWrite(byte[] Key, byte[]? Value);

/// <summary>Durable state of one task: its stores plus the checkpoint they reflect.</summary>
internal interface ITaskStorage : IDisposable
{
    /// <summary>The last checkpoint written, or null when the task has no local state.</summary>
    TaskCheckpoint? ReadCheckpoint();

    byte[]? Get(int store, byte[] key);

    /// <summary>All entries of a store in unsigned lexicographic key order.</summary>
    IEnumerable<KeyValuePair<byte[], byte[]>> All(int store);

    /// <summary>Applies every store's writes and the checkpoint as one atomic unit (all or nothing after a crash).</summary>
    void Write(IReadOnlyList<IReadOnlyList<StoreWrite>> writesPerStore, TaskCheckpoint checkpoint);

    /// <summary>Drops all data and the checkpoint (the task then restores from its changelogs).</summary>
    void Wipe();
}

/// <summary>Creates the storage of a task (RocksDB in workers, memory in tests).</summary>
public interface ITaskStorageFactory
{
    internal ITaskStorage Open(Topology topology, int partition);

    /// <summary>Loads whatever the storage needs (native libraries) ahead of the first task.</summary>
    internal void Prepare()
    {
    }
}
