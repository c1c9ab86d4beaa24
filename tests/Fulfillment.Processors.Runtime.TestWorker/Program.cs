using System.Globalization;
using System.Runtime.InteropServices;
using Fulfillment.Hosting;
using Fulfillment.Processors.Runtime;
using Fulfillment.Processors.Runtime.State;
using Fulfillment.Processors.Runtime.TestWorker;
using Microsoft.Extensions.Logging;

// A worker process for the runtime's multi-process tests: runs the ledger topology until SIGTERM (clean: commit and
// leave the group) or SIGKILL (the point of the tests). Exit code 0 on a clean stop, 1 when the runtime failed.
var options = ParseArgs(args);
using var loggerFactory = LoggerFactory.Create(b => b
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
        o.UseUtcTimestamp = true;
    })
    .SetMinimumLevel(LogLevel.Information));
using var stop = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
{
    ctx.Cancel = true;
    stop.Cancel();
});
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
{
    ctx.Cancel = true;
    stop.Cancel();
});

var ledger = LedgerTopology.Build(options["app"], options["input"], options["output"], options["dlq"]);
var runtime = new StreamRuntime(ledger.Topology, new StreamRuntimeOptions
{
    BootstrapServers = options["bootstrap"],
    StorageFactory = new RocksDbTaskStorageFactory(options["state"]),
    InstanceId = options["instance"],
    Guarantee = Enum.Parse<ProcessingGuarantee>(options.GetValueOrDefault("guarantee", "Auto")),
    SessionTimeout = TimeSpan.FromMilliseconds(int.Parse(options.GetValueOrDefault("session-timeout-ms", "3000"), CultureInfo.InvariantCulture)),
    HeartbeatInterval = TimeSpan.FromSeconds(1),
    CommitInterval = options.TryGetValue("commit-interval-ms", out var commit)
        ? TimeSpan.FromMilliseconds(int.Parse(commit, CultureInfo.InvariantCulture))
        : null,
    // Two by default, like the pool worker on a 2-core machine: the crash and rebalance tests then cover parallel
    // processing; --threads 1 gives the single-threaded loop.
    ProcessingThreads = int.Parse(options.GetValueOrDefault("threads", "2"), CultureInfo.InvariantCulture),
    ConsumerConfig = KafkaDefaults.Consumer(options["bootstrap"], options["app"]),
    ProducerConfig = KafkaDefaults.Producer(options["bootstrap"]),
}, loggerFactory.CreateLogger<StreamRuntime>());

try
{
    await runtime.RunAsync(stop.Token);
    return 0;
}
#pragma warning disable CA1031 // The process reports any failure through its exit code; the runtime already logged it.
catch (Exception)
#pragma warning restore CA1031
{
    return 1;
}

static Dictionary<string, string> ParseArgs(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        result[args[i].TrimStart('-')] = args[i + 1];
    }

    foreach (var required in new[] { "bootstrap", "app", "input", "output", "dlq", "state", "instance" })
    {
        if (!result.ContainsKey(required))
        {
            throw new ArgumentException($"Missing --{required}.");
        }
    }

    return result;
}
