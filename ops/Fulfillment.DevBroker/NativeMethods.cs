using System.Reflection;
using System.Runtime.InteropServices;

namespace Fulfillment.DevBroker;

/// <summary>
/// P/Invoke surface of librdkafka's mock cluster (rdkafka_mock.h; experimental, test-only upstream).
/// The library is resolved to the very native copy Confluent.Kafka loaded: two copies in one process would mean two
/// librdkafka global states, and the package's plain <c>librdkafka.so</c> does not even load on Debian 12
/// (it needs libsasl2.so.3), whereas <c>centos8-librdkafka.so</c> does (facts/kafka-dev-broker.md).
/// </summary>
internal static unsafe partial class NativeMethods
{
    private const string Lib = "librdkafka";

    static NativeMethods() => NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, Resolve);

    /// <summary>Path of the native library actually used (for diagnostics and tests).</summary>
    internal static string? LoadedPath { get; private set; }

    /// <summary>Forces the resolver to run; throws <see cref="DllNotFoundException"/> if no copy loads.</summary>
    internal static void EnsureLoaded() => _ = rd_kafka_version();

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Lib)
        {
            return IntPtr.Zero;
        }

        // Let Confluent.Kafka pick and load its copy first, then bind to that same file.
        _ = Confluent.Kafka.Library.Version;
        var loaded = FindMappedLibrdkafka();
        if (loaded is not null && NativeLibrary.TryLoad(loaded, out var shared))
        {
            LoadedPath = loaded;
            return shared;
        }

        var native = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native");
        foreach (var name in (string[])["librdkafka.so", "centos8-librdkafka.so"])
        {
            var path = Path.Combine(native, name);
            if (NativeLibrary.TryLoad(path, out var handle))
            {
                LoadedPath = path;
                return handle;
            }
        }

        throw new DllNotFoundException($"librdkafka could not be loaded from {native} (tried librdkafka.so, centos8-librdkafka.so).");
    }

    /// <summary>The librdkafka file mapped into this process, if any (Linux only).</summary>
    internal static string? FindMappedLibrdkafka() => MappedLibrdkafkaFiles().FirstOrDefault();

    /// <summary>Every distinct librdkafka file mapped into this process (Linux only; empty elsewhere).</summary>
    internal static IReadOnlyList<string> MappedLibrdkafkaFiles()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return [];
        }

        return File.ReadLines(maps)
            .Select(line => line.IndexOf('/', StringComparison.Ordinal) is var i and >= 0 ? line[i..] : null)
            .Where(path => path is not null && Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal))
            .Select(path => path!)
            .Distinct(StringComparer.Ordinal)
            .ToList();
    }

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_version();

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_conf_destroy(IntPtr conf);

    /// <summary>On success the handle owns <paramref name="conf"/>; on failure the caller still does.</summary>
    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte* errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

    /// <summary>Returns a const char* owned by the cluster.</summary>
    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [LibraryImport(Lib)]
    internal static partial int rd_kafka_mock_set_controller_id(IntPtr mcluster, int brokerId);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mcluster, int delayMs);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void rd_kafka_mock_broker_set_host_port(IntPtr mcluster, int brokerId, string host, int port);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_set_group_consumer_session_timeout_ms(IntPtr mcluster, int timeoutMs);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(IntPtr mcluster, int intervalMs);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_err2str(int err);

    internal static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";
}
