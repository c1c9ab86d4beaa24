using System.Text;
using Fulfillment.Processors.Runtime.State;

namespace Fulfillment.Processors.Runtime.Tests;

public sealed class TaskStorageTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "rt-storage-" + Guid.NewGuid().ToString("N"));

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static TaskCheckpoint Checkpoint(long offset) => new(
        new Dictionary<string, long> { ["in"] = offset },
        new Dictionary<string, long> { ["app-s-changelog"] = offset * 2 },
        1234,
        offset);

    [Fact]
    public void RocksDb_WriteThenReopen_KeepsDataAndCheckpointTogether()
    {
        var path = Path.Combine(_root, "task-0");
        using (var storage = new RocksDbTaskStorage(path, ["a", "b"]))
        {
            storage.ReadCheckpoint().ShouldBeNull();
            storage.Write([[new StoreWrite(B("k2"), B("v2")), new StoreWrite(B("k1"), B("v1"))], [new StoreWrite(B("x"), B("y"))]], Checkpoint(7));
            storage.Write([[new StoreWrite(B("k2"), null)], []], Checkpoint(9));
        }

        using var reopened = new RocksDbTaskStorage(path, ["a", "b"]);
        reopened.ReadCheckpoint().ShouldNotBeNull().InputOffsets["in"].ShouldBe(9);
        reopened.ReadCheckpoint()!.ChangelogPositions["app-s-changelog"].ShouldBe(18);
        reopened.ReadCheckpoint()!.StreamTimeMs.ShouldBe(1234);
        reopened.All(0).Select(p => Encoding.UTF8.GetString(p.Key)).ShouldBe(["k1"]);
        reopened.Get(1, B("x")).ShouldBe(B("y"));
    }

    [Fact]
    public void RocksDb_ReopenWithAnExtraStore_OpensExistingAndNewColumnFamilies()
    {
        var path = Path.Combine(_root, "task-1");
        using (var storage = new RocksDbTaskStorage(path, ["a"]))
        {
            storage.Write([[new StoreWrite(B("k"), B("v"))]], Checkpoint(1));
        }

        using var reopened = new RocksDbTaskStorage(path, ["a", "b"]);
        reopened.Get(0, B("k")).ShouldBe(B("v"));
        reopened.All(1).ShouldBeEmpty();
    }

    [Fact]
    public void RocksDb_Wipe_RemovesDataAndCheckpoint()
    {
        using var storage = new RocksDbTaskStorage(Path.Combine(_root, "task-2"), ["a"]);
        storage.Write([[new StoreWrite(B("k"), B("v"))]], Checkpoint(1));

        storage.Wipe();

        storage.ReadCheckpoint().ShouldBeNull();
        storage.All(0).ShouldBeEmpty();
    }

    [Fact]
    public void InMemory_AllAfterWrites_ListsKeysInUnsignedByteOrder()
    {
        using var storage = new InMemoryTaskStorage(1);
        storage.Write([[new StoreWrite([0xff], B("1")), new StoreWrite([0x01], B("2")), new StoreWrite([0x80], B("3"))]], Checkpoint(1));

        storage.All(0).Select(p => p.Key[0]).ShouldBe(new byte[] { 0x01, 0x80, 0xff });
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}

public class ChangelogRestorerTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static TaskCheckpoint Marker(long offset, long sequence) => new(
        new Dictionary<string, long> { ["in"] = offset }, new Dictionary<string, long>(), offset * 10, sequence);

    private static void Commit(ChangelogRestorer restorer, int store, Guid id, long sequence, bool withMarker, long inputOffset, params (string Key, string? Value)[] writes)
    {
        foreach (var (key, value) in writes)
        {
            restorer.Add(store, B(key), value is null ? null : B(value), Changelog.DataHeaders(id, sequence));
        }

        if (withMarker)
        {
            restorer.Add(store, Changelog.MarkerKey, Changelog.MarkerValue(Marker(inputOffset, sequence)), Changelog.MarkerHeaders(id, sequence));
        }
    }

    private static Dictionary<string, string?> Apply(IReadOnlyList<StoreWrite> writes) =>
        writes.ToDictionary(w => Encoding.UTF8.GetString(w.Key), w => w.Value is null ? null : Encoding.UTF8.GetString(w.Value));

    [Fact]
    public void Complete_CrashedCommitThenRetry_SkipsTheUnmarkedRecordsAndEndsAtTheLastMarker()
    {
        var restorer = new ChangelogRestorer(1, requireMarkers: true);
        Commit(restorer, 0, Guid.NewGuid(), 1, true, 10, ("a", "1"), ("b", "1"));
        Commit(restorer, 0, Guid.NewGuid(), 2, false, 20, ("a", "crashed"), ("c", "crashed"));
        Commit(restorer, 0, Guid.NewGuid(), 2, true, 15, ("b", "2"));

        var result = restorer.Complete();

        Apply(result.Writes[0]).ShouldBe(new Dictionary<string, string?> { ["a"] = "1", ["b"] = "2" }, ignoreOrder: true);
        result.Checkpoint.ShouldNotBeNull().InputOffsets["in"].ShouldBe(15);
        result.Checkpoint.CommitSequence.ShouldBe(2);
        result.RecordsSkipped.ShouldBe(2);
    }

    [Fact]
    public void Complete_MarkerMissingInOneStore_RollsBackToTheLastCommitCompleteInAllStores()
    {
        var restorer = new ChangelogRestorer(2, requireMarkers: true);
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        Commit(restorer, 0, first, 1, true, 10, ("a", "1"));
        Commit(restorer, 1, first, 1, true, 10, ("x", "1"));
        Commit(restorer, 0, second, 2, true, 20, ("a", "2"));
        Commit(restorer, 1, second, 2, false, 20, ("x", "2"));

        var result = restorer.Complete();

        Apply(result.Writes[0]).ShouldBe(new Dictionary<string, string?> { ["a"] = "1" });
        Apply(result.Writes[1]).ShouldBe(new Dictionary<string, string?> { ["x"] = "1" });
        result.Checkpoint!.InputOffsets["in"].ShouldBe(10);
    }

    [Fact]
    public void Complete_Tombstone_RestoresAsDelete()
    {
        var restorer = new ChangelogRestorer(1, requireMarkers: true);
        Commit(restorer, 0, Guid.NewGuid(), 1, true, 1, ("a", "1"));
        Commit(restorer, 0, Guid.NewGuid(), 2, true, 2, ("a", null));

        Apply(restorer.Complete().Writes[0]).ShouldBe(new Dictionary<string, string?> { ["a"] = null });
    }

    [Fact]
    public void Complete_TransactionalModeWithCompactedMarkers_AppliesEverythingAndUsesTheLastMarker()
    {
        var restorer = new ChangelogRestorer(1, requireMarkers: false);
        Commit(restorer, 0, Guid.NewGuid(), 1, false, 10, ("a", "1"));
        Commit(restorer, 0, Guid.NewGuid(), 2, true, 20, ("b", "2"));

        var result = restorer.Complete();

        Apply(result.Writes[0]).ShouldBe(new Dictionary<string, string?> { ["a"] = "1", ["b"] = "2" }, ignoreOrder: true);
        result.Checkpoint!.InputOffsets["in"].ShouldBe(20);
    }

    [Fact]
    public void Complete_NoMarkerAtAll_AppliesNothing()
    {
        var restorer = new ChangelogRestorer(1, requireMarkers: true);
        Commit(restorer, 0, Guid.NewGuid(), 1, false, 10, ("a", "1"));

        var result = restorer.Complete();

        result.Writes[0].ShouldBeEmpty();
        result.Checkpoint.ShouldBeNull();
    }
}
