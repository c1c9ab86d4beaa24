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
        try
        {
            switch (args)
            {
                case ["generate", var schemaDir, var outputDir]:
                    var written = CSharpGenerator.Generate(AvscSet.Load(schemaDir), outputDir);
                    Console.WriteLine($"Avro code generation: {written.Total} types from {schemaDir}, {written.Changed} file(s) changed in {outputDir}");
                    return 0;
                case ["release", var schemaDir, var releasedDir, var version]:
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
            // MSBuild's Exec shows stderr lines in the "file: error" shape as build errors.
            Console.Error.WriteLine($"error AVRO001: {e.Message}");
            return 1;
        }
    }
}
