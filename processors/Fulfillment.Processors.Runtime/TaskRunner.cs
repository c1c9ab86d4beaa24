namespace Fulfillment.Processors.Runtime;

/// <summary>A task plus its per-input buffers: the deterministic merge of co-partitioned inputs lives here.</summary>
internal sealed class TaskRunner(int partition, StreamTask task, int inputs)
{
    public int Partition { get; } = partition;

    public StreamTask Task { get; } = task;

    public Queue<RawRecord>[] Queues { get; } = [.. Enumerable.Range(0, inputs).Select(_ => new Queue<RawRecord>())];

    /// <summary>Records buffered over all inputs (changed only through <see cref="Enqueue"/>, <see cref="Dequeue"/> and
    /// <see cref="Clear"/>).</summary>
    public int Buffered { get; private set; }

    public void Enqueue(int input, RawRecord record)
    {
        Queues[input].Enqueue(record);
        Buffered++;
    }

    public RawRecord Dequeue(int input)
    {
        var record = Queues[input].Dequeue();
        Buffered--;
        return record;
    }

    public void Clear(int input)
    {
        Buffered -= Queues[input].Count;
        Queues[input].Clear();
    }

    /// <summary>Offset after the last record fetched per input (-1 until the first), to tell "caught up" from "slow".</summary>
    public long[] NextFetch { get; } = new long[inputs];

    public DateTimeOffset? BlockedSince { get; set; }

    // Whether an empty input is caught up, asked once per input per processing round instead of once per record
    // (librdkafka's watermark lookup marshals the topic name and takes locks; with three idle inputs it was asked three
    // times per record). No record is added to the queues during a round, so "not caught up" cannot change within it;
    // "caught up" can only turn false when a fetch response lands meanwhile, and those records are merged next round
    // either way: the answer is as timing-dependent as before, only sampled at the start of the round.
    private readonly sbyte[] _caughtUp = new sbyte[inputs];
    private Func<int, bool>? _cachedProbe;

    /// <summary>Asks whether an input with nothing buffered is caught up (set once by the runtime).</summary>
    public Func<int, bool> Probe { get; set; } = _ => false;

    /// <summary>Starts a processing round: caught-up answers of the previous round are forgotten.</summary>
    public void BeginRound() => Array.Clear(_caughtUp);

    /// <summary><see cref="Probe"/>'s answers, remembered until the next <see cref="BeginRound"/>.</summary>
    public Func<int, bool> CaughtUpThisRound => _cachedProbe ??= input =>
    {
        if (_caughtUp[input] == 0)
        {
            _caughtUp[input] = Probe(input) ? (sbyte)1 : (sbyte)-1;
        }

        return _caughtUp[input] > 0;
    };

    /// <summary>The input whose head record has the lowest timestamp (ties: declaration order), or -1 to wait. When another
    /// input has nothing buffered and is not known to be caught up, wait up to <paramref name="maxIdle"/> for it:
    /// otherwise the interleaving would depend on fetch timing and a replay could decide differently.</summary>
    public int Pick(DateTimeOffset now, TimeSpan maxIdle, Func<int, bool> caughtUp)
    {
        var best = -1;
        long bestTimestamp = 0;
        var waiting = false;
        for (var i = 0; i < Queues.Length; i++)
        {
            var queue = Queues[i];
            if (queue.Count == 0)
            {
                if (Queues.Length > 1 && !caughtUp(i))
                {
                    waiting = true;
                }

                continue;
            }

            var timestamp = queue.Peek().TimestampMs;
            if (best < 0 || timestamp < bestTimestamp)
            {
                best = i;
                bestTimestamp = timestamp;
            }
        }

        if (best < 0)
        {
            BlockedSince = null;
            return -1;
        }

        if (waiting)
        {
            // Once the wait has expired, keep processing (Kafka Streams' enforced processing) until the empty input has
            // data or is caught up: restarting the wait after every record would throttle the task to one record per
            // MaxTaskIdle.
            BlockedSince ??= now;
            return now - BlockedSince.Value < maxIdle ? -1 : best;
        }

        BlockedSince = null;
        return best;
    }
}
