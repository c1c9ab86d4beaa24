using System.Globalization;

namespace Fulfillment.SchemaRegistry;

/// <summary>An error answered as Confluent does: HTTP status plus <c>{"error_code":N,"message":"..."}</c>.</summary>
public sealed class RegistryException : Exception
{
    public RegistryException(int status, int errorCode, string message)
        : base(message)
    {
        Status = status;
        ErrorCode = errorCode;
    }

    public RegistryException()
    {
    }

    public RegistryException(string message)
        : base(message)
    {
    }

    public RegistryException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public int Status { get; } = 500;

    public int ErrorCode { get; } = 50001;
}

/// <summary>Confluent Schema Registry's error codes and messages (io.confluent.kafka.schemaregistry.rest.exceptions.Errors).</summary>
public static class Errors
{
    public static RegistryException SubjectNotFound(string subject) => new(404, 40401, $"Subject '{subject}' not found.");

    public static RegistryException VersionNotFound(string subject, int version) =>
        new(404, 40402, $"Version {version.ToString(CultureInfo.InvariantCulture)} not found.");

    public static RegistryException SchemaNotFound() => new(404, 40403, "Schema not found");

    public static RegistryException SchemaIdNotFound(int id) =>
        new(404, 40403, $"Schema {id.ToString(CultureInfo.InvariantCulture)} not found");

    public static RegistryException SubjectSoftDeleted(string subject) =>
        new(404, 40404, $"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently");

    public static RegistryException SubjectNotSoftDeleted(string subject) =>
        new(404, 40405, $"Subject '{subject}' was not deleted first before being permanently deleted");

    public static RegistryException VersionSoftDeleted(string subject, int version) =>
        new(404, 40406, $"Subject '{subject}' Version {version.ToString(CultureInfo.InvariantCulture)} was soft deleted.Set permanent=true to delete permanently");

    public static RegistryException VersionNotSoftDeleted(string subject, int version) =>
        new(404, 40407, $"Subject '{subject}' Version {version.ToString(CultureInfo.InvariantCulture)} was not deleted first before being permanently deleted");

    public static RegistryException SubjectConfigNotFound(string subject) =>
        new(404, 40408, $"Subject '{subject}' does not have subject-level compatibility configured");

    public static RegistryException Incompatible(string message) => new(409, 409, message);

    public static RegistryException InvalidSchema(string detail) => new(422, 42201, $"Invalid schema: {detail}");

    public static RegistryException InvalidVersion(string version) =>
        new(422, 42202, $"The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"");

    public static RegistryException InvalidCompatibilityLevel(string? level) =>
        new(422, 42203, $"Invalid compatibility level '{level}'. Valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE");

    public static RegistryException BadRequest(string message) => new(400, 400, message);

    public static RegistryException Store() => new(500, 50001, "Error in the backend data store");
}
