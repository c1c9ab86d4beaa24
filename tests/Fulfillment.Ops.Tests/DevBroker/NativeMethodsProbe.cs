namespace Fulfillment.Ops.Tests.DevBroker;

/// <summary>Which librdkafka files are mapped into this test process (Linux /proc/self/maps).</summary>
internal static class NativeMethodsProbe
{
    public static IReadOnlyList<string> MappedLibrdkafkaFiles() =>
        [.. File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/', StringComparison.Ordinal) is var i and >= 0 ? line[i..] : null)
            .OfType<string>()
            .Where(path => Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal))
            .Distinct(StringComparer.Ordinal)];
}
