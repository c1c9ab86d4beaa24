using System.Net;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Fulfillment.Hosting.Tests;

/// <summary>
/// What the workers wait out instead of stopping (the postgres-restart drill: the registry answers 5xx while its own
/// Postgres restarts, and channel sync used to stop on the first shipment whose schema it had not fetched yet) and what
/// they must not retry (a permanent error would spin forever and hide the bad record).
/// </summary>
public sealed class TransientRetryTests
{
    private static readonly Counter Errors = Metrics.WithCustomRegistry(Metrics.NewCustomRegistry()).CreateCounter(
        "fulfillment_test_transient_errors_total", "test", new CounterConfiguration { LabelNames = ["operation", "reason"] });

    private static TransientRetry Retry() => new(null, NullLogger.Instance, "Test", Errors) { FirstDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(4) };

    public static TheoryData<Exception, bool> Cases() => new()
    {
        { new HttpRequestException("[http://registry/] InternalServerError 50001 Error in the backend data store"), true },
        { new SchemaRegistryException("backend", HttpStatusCode.InternalServerError, 50001), true },
        { new SchemaRegistryException("Schema not found", HttpStatusCode.NotFound, 40403), false },
        { new KafkaException(ErrorCode.Local_MsgTimedOut), true },
        { new KafkaException(new Error(ErrorCode.Local_Fatal, "fenced", true)), false },
        { new TimeoutException(), true },
        { new InvalidOperationException("a bug"), false },
        { new InvalidOperationException("wrapped", new IOException("connection reset")), true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsTransient_ErrorKind_ClassifiedAsAnOutageOrNot(Exception error, bool transient)
    {
        TransientRetry.IsTransient(error, out _).ShouldBe(transient);
    }

    [Fact]
    public async Task RunAsync_RegistryDownForThreeCalls_RetriesUntilItAnswers()
    {
        var retry = Retry();
        var calls = 0;

        var value = await retry.RunAsync("decode", () => ++calls <= 3
            ? Task.FromException<int>(new HttpRequestException("InternalServerError 50001"))
            : Task.FromResult(42), CancellationToken.None);

        value.ShouldBe(42);
        calls.ShouldBe(4);
        retry.Retries.ShouldBe(3);
    }

    [Fact]
    public async Task RunAsync_UnknownSchemaId_FailsAtOnceWithoutRetrying()
    {
        var retry = Retry();
        var calls = 0;

        await Should.ThrowAsync<SchemaRegistryException>(() => retry.RunAsync("decode", () =>
        {
            calls++;
            return Task.FromException<int>(new SchemaRegistryException("Schema not found", HttpStatusCode.NotFound, 40403));
        }, CancellationToken.None));

        calls.ShouldBe(1);
        retry.Retries.ShouldBe(0);
    }

    [Fact]
    public async Task RunAsync_CancelledWhileWaiting_StopsRetrying()
    {
        var retry = new TransientRetry(null, NullLogger.Instance, "Test", Errors) { FirstDelay = TimeSpan.FromSeconds(30) };
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        await Should.ThrowAsync<OperationCanceledException>(() => retry.RunAsync("decode", () => Task.FromException<int>(new TimeoutException()), cancel.Token));
    }
}
