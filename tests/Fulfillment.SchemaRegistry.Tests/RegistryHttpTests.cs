using System.Net;
using System.Text.Json;
using Fulfillment.SchemaRegistry.Tests.Infrastructure;
using Fulfillment.Testing;
using static Fulfillment.SchemaRegistry.Tests.Infrastructure.Api;

namespace Fulfillment.SchemaRegistry.Tests;

public class RegistryHttpTests(InProcessRegistry fixture) : IClassFixture<InProcessRegistry>
{
    private readonly HttpClient _http = fixture.Http;

    private static readonly string V1 = Record("Order", Field("id", "string"));
    private static readonly string V2 = Record("Order", Field("id", "string"), Field("qty", "int", "0"));
    private static readonly string V2Incompatible = Record("Order", Field("id", "string"), Field("qty", "int"));

    [Fact]
    public async Task Register_NewSubject_ReturnsIdAndVersionOne()
    {
        var subject = Unique("orders-value");

        var reply = await _http.RegisterAsync(subject, V1);

        reply.Status.ShouldBe(HttpStatusCode.OK);
        reply.ContentType.ShouldBe(VndJson);
        var id = reply.Body.GetProperty("id").GetInt32();
        var version = await _http.GetReplyAsync($"/subjects/{subject}/versions/1");
        version.Body.GetProperty("subject").GetString().ShouldBe(subject);
        version.Body.GetProperty("version").GetInt32().ShouldBe(1);
        version.Body.GetProperty("id").GetInt32().ShouldBe(id);
        JsonDocument.Parse(version.Body.GetProperty("schema").GetString()!).RootElement.GetProperty("name").GetString().ShouldBe("Order");
        version.Body.TryGetProperty("schemaType", out _).ShouldBeFalse("Confluent omits schemaType for AVRO");
    }

    [Fact]
    public async Task Register_SameSchemaWithOtherWhitespace_ReturnsSameIdAndNoNewVersion()
    {
        var subject = Unique("ws-value");
        var first = await _http.RegisterAsync(subject, V1);

        var spaced = V1.Replace(",", " ,\n  ", StringComparison.Ordinal).Replace(":", " : ", StringComparison.Ordinal);
        var second = await _http.RegisterAsync(subject, spaced);

        second.Status.ShouldBe(HttpStatusCode.OK);
        second.Body.GetProperty("id").GetInt32().ShouldBe(first.Body.GetProperty("id").GetInt32());
        (await _http.GetReplyAsync($"/subjects/{subject}/versions")).Body.EnumerateArray().Select(e => e.GetInt32()).ShouldBe([1]);
    }

    [Fact]
    public async Task Register_SameSchemaInTwoSubjects_SharesOneGlobalId()
    {
        var schema = Record("Shared" + Guid.NewGuid().ToString("N"), Field("id", "string"));
        var a = await _http.RegisterAsync(Unique("a-value"), schema);
        var b = await _http.RegisterAsync(Unique("b-value"), schema);

        b.Body.GetProperty("id").GetInt32().ShouldBe(a.Body.GetProperty("id").GetInt32());
        var versions = await _http.GetReplyAsync($"/schemas/ids/{a.Body.GetProperty("id").GetInt32()}/versions");
        versions.Body.GetArrayLength().ShouldBe(2);
    }

    [Fact]
    public async Task Register_CompatibleEvolution_GetsNewIdAndVersionTwo()
    {
        var subject = Unique("evolve-value");
        var v1 = await _http.RegisterAsync(subject, V1);

        var v2 = await _http.RegisterAsync(subject, V2);

        v2.Status.ShouldBe(HttpStatusCode.OK);
        v2.Body.GetProperty("id").GetInt32().ShouldNotBe(v1.Body.GetProperty("id").GetInt32());
        var latest = await _http.GetReplyAsync($"/subjects/{subject}/versions/latest");
        latest.Body.GetProperty("version").GetInt32().ShouldBe(2);
        (await _http.GetReplyAsync($"/subjects/{subject}/versions/-1")).Body.GetProperty("version").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task Register_IncompatibleSchema_Returns409WithReason()
    {
        var subject = Unique("incompatible-value");
        await _http.RegisterAsync(subject, V1);

        var reply = await _http.RegisterAsync(subject, V2Incompatible);

        reply.Status.ShouldBe(HttpStatusCode.Conflict);
        reply.ErrorCode.ShouldBe(409);
        reply.Message.ShouldContain("/fields/qty: reader field without default missing in writer");
        (await _http.GetReplyAsync($"/subjects/{subject}/versions")).Body.GetArrayLength().ShouldBe(1);
    }

    [Theory]
    [InlineData("{\"type\":\"record\",\"name\":\"Broken\"")]
    [InlineData("{\"type\":\"record\",\"name\":\"NoFields\"}")]
    [InlineData("{\"type\":\"nonsense\"}")]
    [InlineData("")]
    [InlineData("{\"type\":\"record\",\"name\":\"BadDefault\",\"fields\":[{\"name\":\"q\",\"type\":\"int\",\"default\":\"x\"}]}")]
    public async Task Register_InvalidSchema_Returns422And42201(string schema)
    {
        var reply = await _http.RegisterAsync(Unique("invalid-value"), schema);

        reply.Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        reply.ErrorCode.ShouldBe(42201);
    }

    [Theory]
    [InlineData("PROTOBUF")]
    [InlineData("JSON")]
    public async Task Register_NonAvroSchemaType_Returns422SayingOnlyAvro(string type)
    {
        var reply = await _http.PostReplyAsync($"/subjects/{Unique("proto-value")}/versions", SchemaBody("syntax = \"proto3\";", type));

        reply.Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        reply.ErrorCode.ShouldBe(42201);
        reply.Message.ShouldContain("only AVRO");
    }

    [Fact]
    public async Task Register_WithNonEmptyReferences_Returns422()
    {
        var body = new { schema = V1, references = new[] { new { name = "x", subject = "y", version = 1 } } };

        var reply = await _http.PostReplyAsync($"/subjects/{Unique("refs-value")}/versions", body);

        reply.Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        reply.ErrorCode.ShouldBe(42201);
        reply.Message.ShouldContain("references");
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/vnd.schemaregistry+json")]
    [InlineData("application/octet-stream")]
    public async Task Register_OtherContentTypes_Accepted(string contentType)
    {
        var reply = await SendAsync(_http, HttpMethod.Post, $"/subjects/{Unique("ct-value")}/versions?normalize=true",
            JsonSerializer.Serialize(new { schema = V1 }), contentType);

        reply.Status.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Register_MalformedBody_Returns400()
    {
        var reply = await SendAsync(_http, HttpMethod.Post, $"/subjects/{Unique("bad-value")}/versions", "{not json");

        reply.Status.ShouldBe(HttpStatusCode.BadRequest);
        reply.ErrorCode.ShouldBe(400);
    }

    [Fact]
    public async Task Register_ConcurrentSameSchemaAcrossSubjects_OneIdOneVersionEach()
    {
        var schema = Record("Race" + Guid.NewGuid().ToString("N"), Field("id", "string"));
        string[] subjects = [Unique("race-a"), Unique("race-b")];

        var replies = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => _http.RegisterAsync(subjects[i % 2], schema)));

        replies.ShouldAllBe(r => r.Status == HttpStatusCode.OK);
        replies.Select(r => r.Body.GetProperty("id").GetInt32()).Distinct().Count().ShouldBe(1);
        foreach (var subject in subjects)
        {
            (await _http.GetReplyAsync($"/subjects/{subject}/versions")).Body.EnumerateArray().Select(e => e.GetInt32()).ShouldBe([1]);
        }
    }

    [Fact]
    public async Task Register_ConcurrentDistinctSchemasInOneSubject_GetDistinctIdsAndConsecutiveVersions()
    {
        var subject = Unique("race-distinct");
        await _http.PutReplyAsync($"/config/{subject}", new { compatibility = "NONE" });
        var schemas = Enumerable.Range(0, 8).Select(i => Record("Distinct" + Guid.NewGuid().ToString("N"), Field("f" + i, "int"))).ToList();

        var replies = await Task.WhenAll(schemas.Select(s => _http.RegisterAsync(subject, s)));

        replies.ShouldAllBe(r => r.Status == HttpStatusCode.OK);
        replies.Select(r => r.Body.GetProperty("id").GetInt32()).Distinct().Count().ShouldBe(8);
        (await _http.GetReplyAsync($"/subjects/{subject}/versions")).Body.EnumerateArray().Select(e => e.GetInt32()).ShouldBe([1, 2, 3, 4, 5, 6, 7, 8]);
    }

    [Fact]
    public async Task GetVersions_UnknownSubject_Returns404And40401()
    {
        var reply = await _http.GetReplyAsync($"/subjects/{Unique("nobody")}/versions");

        reply.Status.ShouldBe(HttpStatusCode.NotFound);
        reply.ErrorCode.ShouldBe(40401);
    }

    [Fact]
    public async Task GetVersion_MissingVersion_Returns404And40402()
    {
        var subject = Unique("missing-version");
        await _http.RegisterAsync(subject, V1);

        var reply = await _http.GetReplyAsync($"/subjects/{subject}/versions/7");

        reply.Status.ShouldBe(HttpStatusCode.NotFound);
        reply.ErrorCode.ShouldBe(40402);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("-2")]
    [InlineData("99999999999")]
    public async Task GetVersion_InvalidVersion_Returns422And42202(string version)
    {
        var subject = Unique("bad-version");
        await _http.RegisterAsync(subject, V1);

        var reply = await _http.GetReplyAsync($"/subjects/{subject}/versions/{version}");

        reply.Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        reply.ErrorCode.ShouldBe(42202);
    }

    [Fact]
    public async Task GetVersionSchema_ReturnsTheBareSchema()
    {
        var subject = Unique("bare");
        await _http.RegisterAsync(subject, V1);

        var reply = await _http.GetReplyAsync($"/subjects/{subject}/versions/latest/schema");

        reply.Status.ShouldBe(HttpStatusCode.OK);
        reply.Body.GetProperty("type").GetString().ShouldBe("record");
    }

    [Fact]
    public async Task GetSchemaById_Known_ReturnsSchema_UnknownReturns40403()
    {
        var id = (await _http.RegisterAsync(Unique("byid"), V1)).Body.GetProperty("id").GetInt32();

        var known = await _http.GetReplyAsync($"/schemas/ids/{id}?subject=whatever");
        var unknown = await _http.GetReplyAsync("/schemas/ids/987654");

        known.Status.ShouldBe(HttpStatusCode.OK);
        known.Body.GetProperty("schema").GetString()!.ShouldContain("\"Order\"");
        unknown.Status.ShouldBe(HttpStatusCode.NotFound);
        unknown.ErrorCode.ShouldBe(40403);
        (await _http.GetReplyAsync("/schemas/ids/987654/versions")).ErrorCode.ShouldBe(40403);
    }

    [Fact]
    public async Task Lookup_UnknownSubject_40401_UnknownSchema_40403_KnownSchemaFound()
    {
        var subject = Unique("lookup");
        var id = (await _http.RegisterAsync(subject, V1)).Body.GetProperty("id").GetInt32();

        var noSubject = await _http.PostReplyAsync($"/subjects/{Unique("nobody")}?normalize=False&deleted=False", SchemaBody(V1));
        var noSchema = await _http.PostReplyAsync($"/subjects/{subject}?normalize=False&deleted=False", SchemaBody(V2));
        var found = await _http.PostReplyAsync($"/subjects/{subject}?normalize=False&deleted=False", SchemaBody(V1.Replace(",", ", ", StringComparison.Ordinal)));

        noSubject.Status.ShouldBe(HttpStatusCode.NotFound);
        noSubject.ErrorCode.ShouldBe(40401);
        noSchema.Status.ShouldBe(HttpStatusCode.NotFound);
        noSchema.ErrorCode.ShouldBe(40403);
        found.Status.ShouldBe(HttpStatusCode.OK);
        found.Body.GetProperty("id").GetInt32().ShouldBe(id);
        found.Body.GetProperty("version").GetInt32().ShouldBe(1);
        found.Body.GetProperty("subject").GetString().ShouldBe(subject);
    }

    [Fact]
    public async Task Compatibility_CompatibleAndIncompatible_ReportIsCompatible()
    {
        var subject = Unique("compat");
        await _http.RegisterAsync(subject, V1);

        var ok = await _http.PostReplyAsync($"/compatibility/subjects/{subject}/versions/latest", SchemaBody(V2));
        var bad = await _http.PostReplyAsync($"/compatibility/subjects/{subject}/versions/latest?verbose=True", SchemaBody(V2Incompatible));
        var byNumber = await _http.PostReplyAsync($"/compatibility/subjects/{subject}/versions/1", SchemaBody(V2));
        var missingVersion = await _http.PostReplyAsync($"/compatibility/subjects/{subject}/versions/5", SchemaBody(V2));
        var newSubject = await _http.PostReplyAsync($"/compatibility/subjects/{Unique("fresh")}/versions/latest", SchemaBody(V2));

        ok.Body.GetProperty("is_compatible").GetBoolean().ShouldBeTrue();
        ok.Body.TryGetProperty("messages", out _).ShouldBeFalse();
        bad.Status.ShouldBe(HttpStatusCode.OK);
        bad.Body.GetProperty("is_compatible").GetBoolean().ShouldBeFalse();
        bad.Body.GetProperty("messages").EnumerateArray().Select(m => m.GetString()).ShouldContain(m => m!.Contains("/fields/qty", StringComparison.Ordinal));
        byNumber.Body.GetProperty("is_compatible").GetBoolean().ShouldBeTrue();
        missingVersion.ErrorCode.ShouldBe(40402);
        newSubject.Body.GetProperty("is_compatible").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task SubjectConfig_SetGetDeleteAndFallbackToGlobal()
    {
        var subject = Unique("cfg");

        var unset = await _http.GetReplyAsync($"/config/{subject}");
        var viaGlobal = await _http.GetReplyAsync($"/config/{subject}?defaultToGlobal=true");
        var put = await _http.PutReplyAsync($"/config/{subject}", new { compatibility = "none" });
        var got = await _http.GetReplyAsync($"/config/{subject}");
        var invalid = await _http.PutReplyAsync($"/config/{subject}", new { compatibility = "SIDEWAYS" });
        await _http.RegisterAsync(subject, V1);
        var incompatibleAllowed = await _http.RegisterAsync(subject, V2Incompatible);
        var deleted = await _http.DeleteReplyAsync($"/config/{subject}");
        var afterDelete = await _http.GetReplyAsync($"/config/{subject}");

        unset.Status.ShouldBe(HttpStatusCode.NotFound);
        unset.ErrorCode.ShouldBe(40408);
        viaGlobal.Body.GetProperty("compatibilityLevel").GetString().ShouldBe("BACKWARD");
        put.Body.GetProperty("compatibility").GetString().ShouldBe("NONE");
        got.Body.GetProperty("compatibilityLevel").GetString().ShouldBe("NONE");
        invalid.Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        invalid.ErrorCode.ShouldBe(42203);
        incompatibleAllowed.Status.ShouldBe(HttpStatusCode.OK);
        deleted.Body.GetProperty("compatibilityLevel").GetString().ShouldBe("NONE");
        afterDelete.ErrorCode.ShouldBe(40408);
    }

    [Fact]
    public async Task SoftAndPermanentDelete_FollowConfluentRules()
    {
        var subject = Unique("del");
        await _http.RegisterAsync(subject, V1);
        await _http.RegisterAsync(subject, V2);

        (await _http.DeleteReplyAsync($"/subjects/{subject}/versions/1?permanent=true")).ErrorCode.ShouldBe(40407);
        (await _http.DeleteReplyAsync($"/subjects/{subject}/versions/1")).Body.GetInt32().ShouldBe(1);
        (await _http.DeleteReplyAsync($"/subjects/{subject}/versions/1")).ErrorCode.ShouldBe(40406);
        (await _http.GetReplyAsync($"/subjects/{subject}/versions/1")).ErrorCode.ShouldBe(40402);
        (await _http.GetReplyAsync($"/subjects/{subject}/versions/1?deleted=true")).Body.GetProperty("version").GetInt32().ShouldBe(1);
        (await _http.DeleteReplyAsync($"/subjects/{subject}?permanent=true")).ErrorCode.ShouldBe(40405);

        (await _http.DeleteReplyAsync($"/subjects/{subject}")).Body.EnumerateArray().Select(e => e.GetInt32()).ShouldBe([2]);
        (await _http.DeleteReplyAsync($"/subjects/{subject}")).ErrorCode.ShouldBe(40404);
        (await _http.GetReplyAsync($"/subjects/{subject}/versions")).ErrorCode.ShouldBe(40401);
        (await _http.GetReplyAsync("/subjects")).Body.EnumerateArray().Select(e => e.GetString()).ShouldNotContain(subject);
        (await _http.GetReplyAsync("/subjects?deleted=True")).Body.EnumerateArray().Select(e => e.GetString()).ShouldContain(subject);

        (await _http.DeleteReplyAsync($"/subjects/{subject}?permanent=true")).Body.EnumerateArray().Select(e => e.GetInt32()).ShouldBe([1, 2]);
        (await _http.GetReplyAsync("/subjects?deleted=true")).Body.EnumerateArray().Select(e => e.GetString()).ShouldNotContain(subject);
        (await _http.DeleteReplyAsync($"/subjects/{subject}")).ErrorCode.ShouldBe(40401);
    }

    [Fact]
    public async Task Register_AfterSoftDeleteOfSameSchema_AddsNewVersionWithSameId()
    {
        var subject = Unique("reregister");
        var id = (await _http.RegisterAsync(subject, V1)).Body.GetProperty("id").GetInt32();
        await _http.DeleteReplyAsync($"/subjects/{subject}/versions/1");

        var again = await _http.RegisterAsync(subject, V1);

        again.Body.GetProperty("id").GetInt32().ShouldBe(id);
        (await _http.GetReplyAsync($"/subjects/{subject}/versions")).Body.EnumerateArray().Select(e => e.GetInt32()).ShouldBe([2]);
    }

    [Fact]
    public async Task Subjects_ListsRegisteredSubjectsWithPrefixFilter()
    {
        var prefix = Unique("pfx");
        await _http.RegisterAsync(prefix + "-a", V1);
        await _http.RegisterAsync(prefix + "-b", V1);

        var all = await _http.GetReplyAsync("/subjects");
        var filtered = await _http.GetReplyAsync($"/subjects?subjectPrefix={prefix}");

        all.Body.EnumerateArray().Select(e => e.GetString()).ShouldContain(prefix + "-a");
        filtered.Body.EnumerateArray().Select(e => e.GetString()).ShouldBe([prefix + "-a", prefix + "-b"]);
    }

    [Fact]
    public async Task Root_Types_AndUnknownRoutes_AnswerLikeConfluent()
    {
        var root = await _http.GetReplyAsync("/");
        var types = await _http.GetReplyAsync("/schemas/types");
        var associations = await _http.GetReplyAsync("/associations/resources/-/orders?resourceType=topic&associationType=value");

        root.Status.ShouldBe(HttpStatusCode.OK);
        root.Body.EnumerateObject().ShouldBeEmpty();
        types.Body.EnumerateArray().Select(e => e.GetString()).ShouldBe(["AVRO"]);
        associations.Status.ShouldBe(HttpStatusCode.NotFound);
        associations.ErrorCode.ShouldBe(404);
    }

    [Fact]
    public async Task Query_BadBoolean_Returns400()
    {
        var reply = await _http.GetReplyAsync("/subjects?deleted=maybe");

        reply.Status.ShouldBe(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Health_WithDatabaseUp_IsHealthy()
    {
        using var response = await _http.GetAsync(new Uri("/health", UriKind.Relative));

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldContain("postgres");
    }
}
