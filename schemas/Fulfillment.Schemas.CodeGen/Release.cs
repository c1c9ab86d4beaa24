using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fulfillment.Schemas.Sources;

namespace Fulfillment.Schemas.CodeGen;

/// <summary>
/// Copies the current schemas to the released folder and writes its manifest: the baseline every later edit must stay
/// BACKWARD compatible with (checked by the schema tests).
/// </summary>
internal static class Release
{
    public static int Snapshot(string schemaDir, string releasedDir, string version)
    {
        // Parse first: never release a set that does not parse.
        var set = AvscSet.Load(schemaDir);
        var avroDir = Path.Combine(releasedDir, "avro");
        if (Directory.Exists(avroDir))
        {
            Directory.Delete(avroDir, recursive: true);
        }

        var entries = new JsonArray();
        foreach (var file in set.Files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            var target = Path.Combine(avroDir, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllText(target, file.Text);
            entries.Add(new JsonObject
            {
                ["name"] = file.Schema.Fullname,
                ["file"] = "avro/" + file.Path,
                ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(file.Text))),
            });
        }

        var manifest = new JsonObject
        {
            ["version"] = version,
            ["released_at"] = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            ["schemas"] = entries,
        };
        File.WriteAllText(
            Path.Combine(releasedDir, "manifest.json"),
            manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true, IndentSize = 2 }) + "\n");
        return set.Files.Count;
    }
}
