using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fulfillment.Api.Tests;

/// <summary>A Postgres restart under the API (the postgres-restart drill) is a 503 with Retry-After, not a 500.</summary>
public sealed class UnavailableExceptionHandlerTests
{
    private static async Task<(bool Handled, HttpContext Context, string Body)> Handle(Exception error)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = "POST";
        context.Request.Path = "/pools/pool-eu/receipts";
        context.Response.Body = new MemoryStream();
        var handler = new UnavailableExceptionHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<UnavailableExceptionHandler>.Instance);

        var handled = await handler.TryHandleAsync(context, error, CancellationToken.None);

        context.Response.Body.Position = 0;
        return (handled, context, await new StreamReader(context.Response.Body).ReadToEndAsync());
    }

    [Fact]
    public async Task TryHandle_PostgresShuttingDown_Answers503WithRetryAfterAndAProblem()
    {
        var (handled, context, body) = await Handle(new PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", "57P01"));

        handled.ShouldBeTrue();
        context.Response.StatusCode.ShouldBe(StatusCodes.Status503ServiceUnavailable);
        context.Response.Headers.RetryAfter.ToString().ShouldBe("1");
        var problem = JsonDocument.Parse(body).RootElement;
        problem.GetProperty("status").GetInt32().ShouldBe(503);
        problem.GetProperty("detail").GetString()!.ShouldContain("database");
    }

    [Fact]
    public async Task TryHandle_ABug_LeftToTheDefault500()
    {
        var (handled, context, body) = await Handle(new InvalidOperationException("a bug"));

        handled.ShouldBeFalse();
        context.Response.StatusCode.ShouldBe(StatusCodes.Status200OK);
        body.ShouldBeEmpty();
    }
}
