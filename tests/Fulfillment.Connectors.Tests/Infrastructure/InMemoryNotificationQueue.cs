using System.Collections.Concurrent;
using Fulfillment.Connectors.Webhooks;

namespace Fulfillment.Connectors.Tests.Infrastructure;

/// <summary>Stands in for the seller's SQS queue in tests of the queue worker: messages stay until deleted.</summary>
public sealed class InMemoryNotificationQueue(string name) : IAmazonNotificationQueue
{
    private readonly ConcurrentQueue<QueueMessage> _waiting = new();
    private readonly ConcurrentDictionary<string, QueueMessage> _received = new();

    public string Name => name;

    public IReadOnlyCollection<string> Undeleted => [.. _received.Keys, .. _waiting.Select(m => m.MessageId)];

    public void Send(byte[] body)
    {
        var id = Guid.NewGuid().ToString();
        _waiting.Enqueue(new QueueMessage(id, "rh-" + id, body));
    }

    public async Task<IReadOnlyList<QueueMessage>> ReceiveAsync(CancellationToken cancellationToken)
    {
        var batch = new List<QueueMessage>();
        while (batch.Count < 10 && _waiting.TryDequeue(out var message))
        {
            _received[message.MessageId] = message;
            batch.Add(message);
        }

        if (batch.Count == 0)
        {
            // Long poll, shortened.
            await Task.Delay(50, cancellationToken);
        }

        return batch;
    }

    public Task DeleteAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        _received.TryRemove(message.MessageId, out _);
        return Task.CompletedTask;
    }
}
