using System.Diagnostics;
using System.Globalization;
using Fulfillment.Processors.Inventory.Domain;

// Decider-alone allocation benchmark: one thread, one pool of 10,000 SKUs × 5 locations, a stream of orders
// (1–5 lines, random SKUs, random US destinations) each cancelled 2,000 orders later so stock and state stay
// bounded. The timed section covers every command (placements and cancellations, with backorder fills); the
// rate counts only the order lines placed, so it is a conservative lines/s.
// Run: dotnet run -c Release --project processors/Fulfillment.Processors.Inventory.Bench [-- --orders N --skus N]
// With --e2e: order events through the development broker instead (see EndToEndBench): --orders N in the measured
// window (default 60,000) after --warmup N (default 20,000), --threads N processing threads (default: one per core,
// as the worker), --alloc-types to print a sample of the allocated types.
if (args.Contains("--e2e"))
{
    return Fulfillment.Processors.Inventory.Bench.EndToEndBench.Run(
        Arg("--orders", 60_000),
        Arg("--warmup", 20_000),
        Arg("--pools", 12),
        Arg("--skus", 1_000),
        Arg("--threads", Environment.ProcessorCount),
        args.Contains("--alloc-types"));
}

var skus = Arg("--skus", 10_000);
var orders = Arg("--orders", 300_000);
var warmup = Arg("--warmup", 30_000);
const int window = 2_000;

var random = new Random(42);
var sites = new (string Id, double Lat, double Lon)[]
{
    ("WH-NJ", 40.73, -74.17), ("WH-GA", 33.75, -84.39), ("WH-TX", 32.78, -96.80), ("WH-CA", 34.05, -118.24), ("3PL-IL", 41.88, -87.63),
};
var state = new PoolState();
var decider = new InventoryDecider();
var output = new List<InventoryEvent>(64);
var now = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

void Do(InventoryCommand command)
{
    output.Clear();
    decider.Decide(state, command, now, output);
}

for (var i = 0; i < sites.Length; i++)
{
    var (id, lat, lon) = sites[i];
    Do(new UpsertLocation(id, i == 4 ? LocationKind.ThirdParty : LocationKind.Warehouse, true, "US", null, new GeoPoint(lat, lon), ["US"], [], null, i));
}

Do(new SetRoutingRules("web", [RoutingRule.MinimiseSplits, RoutingRule.ChannelRanking, RoutingRule.Proximity, RoutingRule.StockBalance], true, []));
Do(new SetChannelLocations("ebay", ["WH-NJ", "WH-TX", "3PL-IL"]));
var skuNames = new string[skus];
for (var s = 0; s < skus; s++)
{
    skuNames[s] = $"SKU-{s:D5}";
    for (var l = 0; l < sites.Length; l++)
    {
        // A fifth of SKU × site cells are empty, so some orders must skip sites or split.
        if (random.Next(5) != 0)
        {
            Do(new ReceiveStock(skuNames[s], sites[l].Id, 200 + random.Next(800), "seed"));
        }
    }
}

var total = warmup + orders;
var commands = new PlaceOrder[total];
for (var o = 0; o < total; o++)
{
    var lineCount = 1 + random.Next(5);
    var lines = new OrderLineRequest[lineCount];
    for (var l = 0; l < lineCount; l++)
    {
        lines[l] = new OrderLineRequest($"{l + 1}", skuNames[random.Next(skus)], 1 + random.Next(3), 500);
    }

    var to = new ShipTo("US", null, new GeoPoint(26 + (random.NextDouble() * 21), -122 + (random.NextDouble() * 51)));
    commands[o] = new PlaceOrder($"o{o}", random.Next(4) == 0 ? "ebay" : "web", FulfillmentMode.Merchant, 0, now.AddMilliseconds(o), to, lines);
}

var cancels = new CancelOrder[total];
for (var o = 0; o < total; o++)
{
    cancels[o] = new CancelOrder($"o{o}", "bench");
}

long placedLines = 0, events = 0, splits = 0, backordered = 0;
var clock = new Stopwatch();
var process = Process.GetCurrentProcess();
var cpuStart = TimeSpan.Zero;
var cancelClock = new Stopwatch();
for (var o = 0; o < total; o++)
{
    if (o == warmup)
    {
        placedLines = events = splits = backordered = 0;
        cancelClock.Reset();
        GC.Collect();
        process.Refresh();
        cpuStart = process.TotalProcessorTime;
        clock.Start();
    }

    Do(commands[o]);
    events += output.Count;
    placedLines += commands[o].Lines.Count;
    foreach (var e in output)
    {
        if (e is AllocationDecided d)
        {
            if (d.Backordered.Count > 0)
            {
                backordered++;
            }

            for (var a = 1; a < d.Allocations.Count; a++)
            {
                if (d.Allocations[a].LocationId != d.Allocations[0].LocationId)
                {
                    splits++;
                    break;
                }
            }
        }
    }

    if (o >= window)
    {
        cancelClock.Start();
        Do(cancels[o - window]);
        cancelClock.Stop();
        events += output.Count;
    }
}

clock.Stop();
process.Refresh();
var cpuSeconds = (process.TotalProcessorTime - cpuStart).TotalSeconds;
var seconds = clock.Elapsed.TotalSeconds;
// The box is shared, so wall time includes waiting for a core; process CPU time (all threads, GC included)
// is the one-core cost and is what the rate uses. Both are printed.
var rate = placedLines / cpuSeconds;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {orders} orders ({placedLines} lines) placed and {orders} cancelled on one thread: {cpuSeconds:0.000} s CPU, {seconds:0.000} s wall ({placedLines / seconds:0} lines/s wall); {skus} SKUs × {sites.Length} locations"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# of which cancellations {cancelClock.Elapsed.TotalSeconds:0.000} s"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# orders/s {orders / cpuSeconds:0}, output events/s {events / cpuSeconds:0} (CPU time), split orders {100.0 * splits / orders:0.0}%, backordered orders {100.0 * backordered / orders:0.0}%"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT name=allocation.decider.lines_per_s value={rate:0} unit=lines/s"));
return 0;

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
}
