namespace Fulfillment.Testing;

/// <summary>Locates files of this repository from a test, wherever the test binaries were built or copied.</summary>
public static class RepoPaths
{
    private const string Marker = "Fulfillment.Streams.sln";
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The repository root: the nearest ancestor of the test binaries (or, failing that, of the current
    /// directory) that contains Fulfillment.Streams.sln.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary>A path under the repository root, e.g. <c>RepoPaths.Get("schemas", "avro")</c>.</summary>
    public static string Get(params string[] relative) => Path.Combine([Root, .. relative]);

    private static string FindRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, Marker)))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException(
            $"No {Marker} above '{AppContext.BaseDirectory}' or '{Environment.CurrentDirectory}'; run the tests from the repository.");
    }
}
