import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A plain HTTP GET for the tests (the agent's own endpoints): status and body, or a setup error.
public func httpGet(_ url: String, timeout: TimeInterval = 10) throws -> (status: Int, body: String, contentType: String) {
    guard let target = URL(string: url) else { throw TestSetupError("bad URL \(url)") }
    final class Box: @unchecked Sendable {
        var result: (Int, String, String)?
        var error: Error?
    }
    let box = Box()
    let done = DispatchSemaphore(value: 0)
    var request = URLRequest(url: target)
    request.timeoutInterval = timeout
    URLSession.shared.dataTask(with: request) { data, response, error in
        if let http = response as? HTTPURLResponse {
            box.result = (http.statusCode, String(decoding: data ?? Data(), as: UTF8.self),
                          http.value(forHTTPHeaderField: "Content-Type") ?? "")
        } else {
            box.error = error ?? TestSetupError("no HTTP response from \(url)")
        }
        done.signal()
    }.resume()
    guard done.wait(timeout: .now() + timeout + 1) == .success else { throw TestSetupError("GET \(url) timed out") }
    if let error = box.error { throw TestSetupError("GET \(url): \(error)") }
    return box.result!
}
