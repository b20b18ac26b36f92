import Foundation
import Hummingbird
import PetalInference

/// Petal's own API: POST /v1/models/{name}/predict with one image as the body (image/jpeg,
/// image/png) or a multipart/form-data body of image files; answers each image's top classes.
struct PredictAPI: Sendable {
    struct Score: Codable, Equatable {
        var `class`: String
        var index: Int
        var probability: Float
    }

    struct ImagePrediction: Codable, Equatable {
        /// The part's file name (or field name); "body" for a bare image body.
        var image: String
        var top: [Score]
    }

    struct Answer: Codable, Equatable {
        var model: String
        var predictions: [ImagePrediction]
        /// Time from the request's arrival to its answer, in milliseconds.
        var timeMs: Double

        enum CodingKeys: String, CodingKey { case model, predictions, timeMs = "time_ms" }
    }

    let server: ServerState

    @Sendable func predict(_ request: Request, context: some RequestContext) async throws -> Response {
        let start = ContinuousClock.now
        let model = try server.model(named: context.parameters.get("name") ?? "")
        let top = try topParameter(request, classes: model.classifier.classNames.count)
        let body = try await server.readBody(request)
        let parts = try imageParts(of: body, contentType: request.headers[.contentType])
        let images = try await model.decode(parts, maxPixels: server.configuration.maxPixels)
        let rows = try await model.probabilities(images)
        let predictions = zip(parts, rows).map { part, row in
            ImagePrediction(image: part.label, top: model.classifier.classification(row, top: top).top.map {
                Score(class: $0.className, index: $0.index, probability: $0.probability)
            })
        }
        let elapsed = (ContinuousClock.now - start).milliseconds
        return JSONResponse.make(Answer(model: model.name, predictions: predictions, timeMs: elapsed))
    }

    /// ?top=K, at most the number of classes.
    private func topParameter(_ request: Request, classes: Int) throws(ServeError) -> Int {
        guard let text = request.uri.queryParameters["top"] else { return min(server.configuration.defaultTop, classes) }
        guard let top = Int(String(text)), top >= 1 else {
            throw .badRequest("query parameter top must be a positive integer (got '\(text)')")
        }
        return min(top, classes)
    }

    /// The images of a body: the body itself, or the file parts of a multipart form.
    private func imageParts(of body: Data, contentType: String?) throws(ServeError) -> [(label: String, data: Data)] {
        let mediaType = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        switch mediaType {
        case "image/jpeg", "image/jpg", "image/png", "application/octet-stream":
            return [("body", body)]
        case "multipart/form-data":
            let parts = try MultipartForm.parse(body, boundary: try MultipartForm.boundary(contentType: contentType ?? ""))
            // Plain form fields (no file name, not an image type) are not images: skip them.
            let files = parts.filter { $0.filename != nil || ($0.contentType?.lowercased().hasPrefix("image/") ?? false) }
            guard !files.isEmpty else {
                throw .badRequest("multipart body has no image files (give each image a filename in its Content-Disposition)")
            }
            return files.map { ($0.label, $0.data) }
        case "":
            throw .unsupportedMediaType("request has no Content-Type: send image/jpeg, image/png or multipart/form-data")
        default:
            throw .unsupportedMediaType("Content-Type '\(mediaType)' is not image/jpeg, image/png or multipart/form-data")
        }
    }
}

extension Duration {
    var milliseconds: Double {
        let c = components
        return Double(c.seconds) * 1000 + Double(c.attoseconds) * 1e-15
    }
}
