using Fulfillment.Schemas.Sources;

namespace Fulfillment.Schemas.CodeGen;

/// <summary>
/// Build-time tool: <c>generate &lt;schema dir&gt; &lt;output dir&gt;</c> writes C# for every .avsc file;
/// <c>release &lt;schema dir&gt; &lt;released dir&gt; &lt;version&gt;</c> snapshots the schemas as the last released version.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: Fulfillment.Schemas.CodeGen generate <schema dir> <output dir>\n" +
        "       Fulfillment.Schemas.CodeGen release <schema dir> <released dir> <version>";

    private static int Main(string[] args)
    {
        var directory = ".";
        try
        {
            switch (args)
            {
                case ["generate", var schemaDir, var outputDir]:
                    directory = schemaDir;
                    var written = CSharpGenerator.Generate(AvscSet.Load(schemaDir), outputDir);
                    Console.WriteLine($"Avro code generation: {written.Total} types from {schemaDir}, {written.Changed} file(s) changed in {outputDir}");
                    return 0;
                case ["release", var schemaDir, var releasedDir, var version]:
                    directory = schemaDir;
                    var count = Release.Snapshot(schemaDir, releasedDir, version);
                    Console.WriteLine($"Released {count} schemas as version {version} into {releasedDir}");
                    return 0;
                default:
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }
        catch (AvscParseException e)
        {
            // One canonical "file: error CODE: message" line per file: MSBuild and IDEs show each as a build error on that file.
            var errors = e.Errors.Count > 0 ? e.Errors : [new AvscFileError(".", e.Message)];
            foreach (var error in errors)
            {
                var path = Path.GetFullPath(Path.Combine(directory, error.Path));
                Console.Error.WriteLine($"{path}: error AVRO001: {error.Message.ReplaceLineEndings(" ")}");
            }

            return 1;
        }
    }
}
