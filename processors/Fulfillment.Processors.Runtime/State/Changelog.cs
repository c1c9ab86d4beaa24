using System.Buffers.Binary;
using System.Text;

namespace Fulfillment.Processors.Runtime.State;

/// <summary>
/// Changelog layout. Each commit of a task writes, to partition <c>p</c> of every store's changelog, one record per
/// key changed since the last commit (tombstone for a delete), then a marker carrying the task's checkpoint (input
/// offsets, stream time, commit sequence). Every record carries the commit's id. A restore applies only commits whose
/// marker it finds in every store's changelog: a crash mid-commit leaves records without a marker, and those are skipped,
/// so the restored state always matches the input offsets it is restored with (effectively-once without transactions).
/// </summary>
internal static class Changelog
{
    public static readonly byte[] MarkerKey = Encoding.UTF8.GetBytes("__fulfillment-runtime-commit-marker__");

    public static byte[] CommitHeader(Guid commitId, long sequence)
    {
        var bytes = new byte[24];
        commitId.TryWriteBytes(bytes);
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(16), sequence);
        return bytes;
    }

    public static (Guid CommitId, long Sequence)? ReadCommitHeader(IReadOnlyList<RecordHeader> headers)
    {
        if (RuntimeHeaders.Find(headers, RuntimeHeaders.ChangelogCommit) is not { Length: 24 } bytes)
        {
            return null;
        }

        return (new Guid(bytes.AsSpan(0, 16)), BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(16)));
    }

    public static bool IsMarker(IReadOnlyList<RecordHeader> headers) =>
        RuntimeHeaders.Find(headers, RuntimeHeaders.ChangelogMarker) is not null;

    public static IReadOnlyList<RecordHeader> DataHeaders(Guid commitId, long sequence) =>
        [new RecordHeader(RuntimeHeaders.ChangelogCommit, CommitHeader(commitId, sequence))];

    public static IReadOnlyList<RecordHeader> MarkerHeaders(Guid commitId, long sequence) =>
    [
        new RecordHeader(RuntimeHeaders.ChangelogCommit, CommitHeader(commitId, sequence)),
        new RecordHeader(RuntimeHeaders.ChangelogMarker, [1]),
    ];

    /// <summary>The marker's payload: the checkpoint without changelog positions (those are local knowledge).</summary>
    public static byte[] MarkerValue(TaskCheckpoint checkpoint) =>
        (checkpoint with { ChangelogPositions = new Dictionary<string, long>() }).Serialize();
}

/// <summary>The outcome of reading a task's changelogs: the writes to apply and the checkpoint they reach.</summary>
internal sealed record RestoreResult(
    IReadOnlyList<IReadOnlyList<StoreWrite>> Writes,
    TaskCheckpoint? Checkpoint,
    long RecordsRead,
    long CommitsApplied,
    long RecordsSkipped);

/// <summary>
/// Collects the changelog records of one task (all stores) and decides what to apply.
/// <para><paramref name="requireMarkers"/> true (effectively-once mode): only commits whose marker is present in every
/// store's changelog are applied, the latest of them (by sequence) gives the checkpoint. This needs uncompacted
/// changelogs, which is what the development broker has.</para>
/// <para>false (exactly_once_v2 on real Kafka): the restore consumer reads committed transactions only, so everything
/// read is complete; markers may have been compacted away except the latest, which gives the checkpoint.</para>
/// Buffers the records in memory until <see cref="Complete"/>; fine for the state sizes a per-partition changelog under
/// the development broker's 5 MiB cap can hold. A streaming restore is the next step if stores grow large on real Kafka.
/// </summary>
internal sealed class ChangelogRestorer(int storeCount, bool requireMarkers)
{
    private readonly List<(Guid Id, long Sequence, byte[] Key, byte[]? Value)>[] _records =
        [.. Enumerable.Range(0, storeCount).Select(_ => new List<(Guid, long, byte[], byte[]?)>())];

    private readonly List<(Guid Id, long Sequence, TaskCheckpoint Checkpoint)>[] _markers =
        [.. Enumerable.Range(0, storeCount).Select(_ => new List<(Guid, long, TaskCheckpoint)>())];

    public long RecordsRead { get; private set; }

    public void Add(int store, byte[]? key, byte[]? value, IReadOnlyList<RecordHeader> headers)
    {
        RecordsRead++;
        var commit = Changelog.ReadCommitHeader(headers);
        if (commit is not { } c || key is null)
        {
            // Not written by this runtime; nothing to tie it to a commit, so it cannot be trusted.
            return;
        }

        if (Changelog.IsMarker(headers))
        {
            if (value is not null)
            {
                _markers[store].Add((c.CommitId, c.Sequence, TaskCheckpoint.Deserialize(value)));
            }
        }
        else
        {
            _records[store].Add((c.CommitId, c.Sequence, key, value));
        }
    }

    public RestoreResult Complete()
    {
        HashSet<Guid> applied;
        TaskCheckpoint? checkpoint;
        if (requireMarkers)
        {
            var complete = _markers.Length == 0 ? [] : _markers[0].Select(m => m.Id).ToHashSet();
            for (var s = 1; s < _markers.Length; s++)
            {
                complete.IntersectWith(_markers[s].Select(m => m.Id));
            }

            var target = _markers.Length == 0 ? default : _markers[0].Where(m => complete.Contains(m.Id))
                .OrderBy(m => m.Sequence).LastOrDefault();
            checkpoint = target.Checkpoint;
            // Commits after the target in sequence would be a zombie's; commits at or before it are the lineage that
            // produced the target state.
            applied = target.Checkpoint is null ? [] : [.. _markers[0].Where(m => complete.Contains(m.Id) && m.Sequence <= target.Sequence).Select(m => m.Id)];
        }
        else
        {
            applied = [.. _records.SelectMany(r => r).Select(r => r.Id)];
            checkpoint = _markers.SelectMany(m => m).OrderBy(m => m.Sequence).Select(m => m.Checkpoint).LastOrDefault();
        }

        long skipped = 0;
        var writes = new IReadOnlyList<StoreWrite>[_records.Length];
        for (var s = 0; s < _records.Length; s++)
        {
            // Later records for a key supersede earlier ones; keep the last per key, in log order.
            var last = new Dictionary<byte[], byte[]?>(ByteArrayComparer.Instance);
            foreach (var record in _records[s])
            {
                if (applied.Contains(record.Id))
                {
                    last[record.Key] = record.Value;
                }
                else
                {
                    skipped++;
                }
            }

            writes[s] = [.. last.Select(p => new StoreWrite(p.Key, p.Value))];
        }

        return new RestoreResult(writes, checkpoint, RecordsRead, applied.Count, skipped);
    }
}
