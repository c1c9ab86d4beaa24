namespace Fulfillment.Ops.Tests.Support;

/// <summary>Paths in the checkout the tests run from (found by walking up to the solution file).</summary>
internal static class Repo
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Fulfillment.Streams.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Fulfillment.Streams.sln not found above {AppContext.BaseDirectory}");
    });

    public static string Root => RootPath.Value;

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);
}
