using Avro;

namespace Fulfillment.Schemas.Sources;

/// <summary>The text of one .avsc file and where it came from (a path or a resource name).</summary>
public sealed record AvscSource(string Path, string Text);

/// <summary>One parsed .avsc file: the single named type it defines.</summary>
public sealed record AvscFile(string Path, string Text, NamedSchema Schema);

/// <summary>Thrown when a set of .avsc files cannot be parsed into one consistent set of named types.</summary>
public sealed class AvscParseException : Exception
{
    public AvscParseException()
    {
    }

    public AvscParseException(string message)
        : base(message)
    {
    }

    public AvscParseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public AvscParseException(string message, IReadOnlyList<AvscFileError> errors)
        : base(message)
    {
        Errors = errors;
    }

    /// <summary>What went wrong, per file.</summary>
    public IReadOnlyList<AvscFileError> Errors { get; } = [];
}

/// <summary>Why one .avsc file could not be parsed; <see cref="Path"/> as given in its <see cref="AvscSource"/>.</summary>
public sealed record AvscFileError(string Path, string Message);

/// <summary>
/// A set of .avsc files, one named type per file, that reference each other by full name, parsed into one
/// <see cref="SchemaNames"/>. Files are parsed in dependency order: a file whose references are not known yet is
/// retried after the others, so the order files are found in does not matter.
/// </summary>
/// <remarks>Shared by the build-time code generator (linked source) and the runtime, so both see the same schemas.</remarks>
public sealed class AvscSet
{
    private readonly Dictionary<string, AvscFile> _byFullName;

    private AvscSet(SchemaNames names, IReadOnlyList<AvscFile> files)
    {
        Names = names;
        Files = files;
        _byFullName = files.ToDictionary(f => f.Schema.Fullname, StringComparer.Ordinal);
    }

    /// <summary>Every named type of the set.</summary>
    public SchemaNames Names { get; }

    /// <summary>The files in parse order: every file comes after the files it references.</summary>
    public IReadOnlyList<AvscFile> Files { get; }

    /// <summary>The named type with this full name.</summary>
    /// <exception cref="KeyNotFoundException">No file defines it.</exception>
    public NamedSchema this[string fullName] =>
        _byFullName.TryGetValue(fullName, out var file)
            ? file.Schema
            : throw new KeyNotFoundException($"No .avsc file defines '{fullName}'.");

    /// <summary>The file that defines the named type, if any.</summary>
    public bool TryGetFile(string fullName, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out AvscFile? file) =>
        _byFullName.TryGetValue(fullName, out file);

    /// <summary>Parses every *.avsc file under <paramref name="directory"/> (recursively); paths are relative to it, with '/'.</summary>
    public static AvscSet Load(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var root = System.IO.Path.GetFullPath(directory);
        var sources = Directory.EnumerateFiles(root, "*.avsc", SearchOption.AllDirectories)
            .Select(path => new AvscSource(
                System.IO.Path.GetRelativePath(root, path).Replace('\\', '/'),
                File.ReadAllText(path)));
        return Parse(sources);
    }

    /// <summary>Parses the sources into one set of named types.</summary>
    /// <exception cref="AvscParseException">A file is invalid, defines more or less than one named type,
    /// duplicates a name, or references a type no file defines (the message lists every failing file).</exception>
    public static AvscSet Parse(IEnumerable<AvscSource> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        // Sorted so the parse order, and everything generated from it, is the same on every machine.
        var pending = sources.OrderBy(s => s.Path, StringComparer.Ordinal).ToList();
        var names = new SchemaNames();
        var parsed = new List<AvscFile>(pending.Count);
        while (pending.Count > 0)
        {
            var failures = new List<(AvscSource Source, Exception Error)>();
            var progressed = false;
            foreach (var source in pending.ToList())
            {
                // A failed parse can leave half-parsed records in the names it was given, so parse into a copy.
                var trial = Copy(names);
                Schema schema;
                try
                {
                    schema = Schema.Parse(source.Text, trial, encspace: null);
                }
                catch (Exception e) when (e is SchemaParseException or AvroException or Newtonsoft.Json.JsonException)
                {
                    failures.Add((source, e));
                    continue;
                }

                if (schema is not NamedSchema named)
                {
                    throw Single(source, $"the top-level schema must be a named type (record, enum or fixed), not {schema.Tag}.");
                }

                var added = trial.Names.Count - names.Names.Count;
                if (added != 1)
                {
                    var defined = trial.Names.Keys.Where(n => !names.Contains(n)).Select(n => n.Fullname);
                    throw Single(source, $"defines {added} named types ({string.Join(", ", defined)}); one named type per file, reference the others by full name.");
                }

                names = trial;
                parsed.Add(new AvscFile(source.Path, source.Text, named));
                pending.Remove(source);
                progressed = true;
            }

            if (!progressed)
            {
                var errors = failures.Select(f => new AvscFileError(f.Source.Path, f.Error.Message)).ToList();
                var details = string.Join(Environment.NewLine, errors.Select(e => $"  {e.Path}: {e.Message}"));
                throw new AvscParseException(
                    $"{errors.Count} .avsc file(s) could not be parsed (invalid, duplicate, or referencing a type no file defines):{Environment.NewLine}{details}",
                    errors);
            }
        }

        return new AvscSet(names, parsed);
    }

    private static AvscParseException Single(AvscSource source, string message) =>
        new($"{source.Path}: {message}", [new AvscFileError(source.Path, message)]);

    private static SchemaNames Copy(SchemaNames names)
    {
        var copy = new SchemaNames();
        foreach (var (name, schema) in names.Names)
        {
            copy.Add(name, schema);
        }

        return copy;
    }
}
