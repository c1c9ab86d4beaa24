using Fulfillment.Hosting;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Fulfillment.Api;

/// <summary>
/// A request that failed because Postgres, the schema registry or Kafka is briefly away (a restart, a failover) is
/// answered 503 with <c>Retry-After</c> and a problem that says so, not 500: the client did nothing wrong and a retry
/// (a command with the same <c>Idempotency-Key</c>) is safe and expected. Anything else stays a 500.
/// </summary>
public sealed partial class UnavailableExceptionHandler(IProblemDetailsService problems, ILogger<UnavailableExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        if (!TransientRetry.IsTransient(exception, out var reason))
        {
            return false;
        }

        LogUnavailable(logger, httpContext.Request.Method, httpContext.Request.Path, reason, exception.Message);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = "1";
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "A backing service is unavailable",
                Detail = $"The hub's {(reason == "registry" ? "schema registry" : reason == "kafka" ? "Kafka broker" : "database")} did not answer ({reason}); "
                    + "retry shortly (commands with the same Idempotency-Key, which makes the retry safe).",
            },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: backing service unavailable ({Reason}): {Error}")]
    private static partial void LogUnavailable(ILogger logger, string method, string path, string reason, string error);
}
