using System.Reflection;

namespace Fulfillment.Schemas.Sources;

/// <summary>The .avsc files compiled into this assembly (resource names <c>avro/{Namespace}/{Name}.avsc</c>).</summary>
public static class EmbeddedSchemas
{
    private const string Prefix = "avro/";

    private static readonly Lazy<AvscSet> Set = new(() => AvscSet.Parse(ResourceNames.Select(name => new AvscSource(name[Prefix.Length..], ReadResource(name)))));

    private static Assembly Assembly => typeof(EmbeddedSchemas).Assembly;

    private static IEnumerable<string> ResourceNames =>
        Assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".avsc", StringComparison.Ordinal));

    /// <summary>Every schema of this build, parsed; file paths are relative to <c>schemas/avro</c>, e.g. <c>Orders/OrderEvent.avsc</c>.</summary>
    public static AvscSet Current => Set.Value;

    /// <summary>The text of the .avsc file that defines <paramref name="fullName"/>, exactly as written.</summary>
    /// <exception cref="KeyNotFoundException">No file defines it.</exception>
    public static string GetText(string fullName) =>
        Current.TryGetFile(fullName, out var file) ? file.Text : throw new KeyNotFoundException($"No .avsc file defines '{fullName}'.");

    private static string ReadResource(string name)
    {
        using var stream = Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Resource '{name}' is listed but cannot be opened.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
