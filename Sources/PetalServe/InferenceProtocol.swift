import Foundation
import HTTPTypes
import Hummingbird
import PetalCore
import PetalData

/// The Open Inference Protocol (KServe v2; Triton and OpenVINO Model Server speak it too), so
/// existing clients work: health, model metadata and readiness, and inference with a BYTES
/// input of encoded JPEG/PNG images or an FP32 input of shape [N, H, W, 3] in 0-255. Requests
/// are JSON, or JSON followed by binary tensors (Triton's binary-data extension, which
/// tritonclient uses: `Inference-Header-Content-Length`).
struct InferenceProtocolAPI: Sendable {
    struct TensorMetadata: Codable, Equatable {
        var name: String
        var datatype: String
        var shape: [Int]
    }

    struct ModelMetadata: Codable, Equatable {
        struct Parameters: Codable, Equatable {
            var classNames: [String]
            var inputSize: Int
            var architecture: String
            enum CodingKeys: String, CodingKey { case classNames = "class_names", inputSize = "input_size", architecture }
        }
        var name: String
        var versions: [String]
        var platform: String
        /// Either input: "image" (encoded images) or "pixels" (FP32 RGB in 0-255).
        var inputs: [TensorMetadata]
        var outputs: [TensorMetadata]
        var parameters: Parameters
    }

    struct InferInput: Decodable {
        struct Parameters: Decodable { var binaryDataSize: Int?
            enum CodingKeys: String, CodingKey { case binaryDataSize = "binary_data_size" } }
        var name: String
        var shape: [Int]
        var datatype: String
        var data: TensorData?
        var parameters: Parameters?
    }

    struct RequestedOutput: Decodable { var name: String }

    struct InferRequest: Decodable {
        var id: String?
        var inputs: [InferInput]
        var outputs: [RequestedOutput]?
    }

    struct InferOutput: Encodable {
        var name: String
        var datatype: String
        var shape: [Int]
        var data: TensorData
    }

    struct InferResponse: Encodable {
        var modelName: String
        var modelVersion: String
        var id: String?
        var outputs: [InferOutput]
        enum CodingKeys: String, CodingKey { case modelName = "model_name", modelVersion = "model_version", id, outputs }
    }

    static let outputNames = ["probabilities", "classes"]

    let server: ServerState

    struct ServerMetadata: Codable { var name: String; var version: String; var extensions: [String] }
    struct ModelReady: Codable { var name: String; var ready: Bool }

    @Sendable func serverMetadata(_ request: Request, context: some RequestContext) async throws -> Response {
        JSONResponse.make(ServerMetadata(name: "petal", version: PetalVersion.string, extensions: ["binary_tensor_data"]))
    }

    @Sendable func live(_ request: Request, context: some RequestContext) async throws -> Response {
        JSONResponse.make(["live": true])
    }

    /// Ready once every model is loaded, which happens before the server listens.
    @Sendable func ready(_ request: Request, context: some RequestContext) async throws -> Response {
        JSONResponse.make(["ready": true])
    }

    @Sendable func modelReady(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try server.model(named: context.parameters.get("name") ?? "")
        return JSONResponse.make(ModelReady(name: model.name, ready: true))
    }

    @Sendable func modelMetadata(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try server.model(named: context.parameters.get("name") ?? "")
        let c = model.classifier
        return JSONResponse.make(ModelMetadata(
            name: model.name, versions: ["1"], platform: "petal",
            inputs: [TensorMetadata(name: "image", datatype: "BYTES", shape: [-1]),
                     TensorMetadata(name: "pixels", datatype: "FP32", shape: [-1, c.inputSize, c.inputSize, 3])],
            outputs: [TensorMetadata(name: "probabilities", datatype: "FP32", shape: [-1, c.classNames.count]),
                      TensorMetadata(name: "classes", datatype: "BYTES", shape: [-1])],
            parameters: .init(classNames: c.classNames, inputSize: c.inputSize, architecture: "\(c.architecture)")))
    }

    @Sendable func infer(_ request: Request, context: some RequestContext) async throws -> Response {
        let model = try server.model(named: context.parameters.get("name") ?? "")
        let body = try await server.readBody(request)
        let (inference, binary) = try Self.parse(body, headerLength: request.headers[.inferenceHeaderContentLength])
        guard inference.inputs.count == 1 else {
            throw ServeError.badRequest("give exactly one input (BYTES encoded images, or FP32 [N, H, W, 3]); got \(inference.inputs.count)")
        }
        let input = inference.inputs[0]
        let requested = inference.outputs?.map(\.name) ?? Self.outputNames
        if let unknown = requested.first(where: { !Self.outputNames.contains($0) }) {
            throw ServeError.badRequest("unknown output '\(unknown)': this model has outputs probabilities and classes")
        }
        let images = try await images(of: input, binary: binary.first, model: model)
        let rows = try await model.probabilities(images)
        let n = rows.count, classes = model.classifier.classNames.count
        var outputs: [InferOutput] = []
        if requested.contains("probabilities") {
            outputs.append(InferOutput(name: "probabilities", datatype: "FP32", shape: [n, classes], data: .numbers(rows.flatMap { $0 })))
        }
        if requested.contains("classes") {
            let names = rows.map { model.classifier.classification($0, top: 1).top[0].className }
            outputs.append(InferOutput(name: "classes", datatype: "BYTES", shape: [n], data: .strings(names)))
        }
        return JSONResponse.make(InferResponse(modelName: model.name, modelVersion: "1", id: inference.id, outputs: outputs))
    }

    /// The JSON header and the binary tensors after it (with Inference-Header-Content-Length).
    static func parse(_ body: Data, headerLength: String?) throws(ServeError) -> (InferRequest, [Data]) {
        var jsonEnd = body.endIndex
        if let headerLength {
            guard let length = Int(headerLength), (0...body.count).contains(length) else {
                throw .badRequest("Inference-Header-Content-Length '\(headerLength)' is not a length within the body's \(body.count) bytes")
            }
            jsonEnd = body.startIndex + length
        }
        let inference: InferRequest
        do { inference = try PetalJSON.decode(InferRequest.self, from: body[body.startIndex..<jsonEnd]) } catch {
            throw .badRequest("the inference request is not valid JSON for the Open Inference Protocol: \(Self.describe(error))")
        }
        var binary: [Data] = [], offset = jsonEnd
        for input in inference.inputs {
            guard let size = input.parameters?.binaryDataSize else { continue }
            guard size >= 0, size <= body.endIndex - offset else {
                throw .badRequest("input '\(input.name)' has binary_data_size \(size), beyond the body's end")
            }
            binary.append(body[offset..<(offset + size)])
            offset += size
        }
        return (inference, binary)
    }

    private func images(of input: InferInput, binary: Data?, model: ServedModel) async throws -> [RGBImage] {
        guard input.shape.allSatisfy({ $0 >= 1 }), !input.shape.isEmpty else {
            throw ServeError.badRequest("input '\(input.name)' has shape \(input.shape); every dimension must be at least 1 (the first is the batch)")
        }
        // A hostile shape must not overflow: products beyond the body's size are refused.
        let count = try input.shape.reduce(1) { product, dimension throws(ServeError) in
            let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow, result <= server.configuration.maxBodyBytes else {
                throw .badRequest("input '\(input.name)' has shape \(input.shape), more elements than a request body can hold")
            }
            return result
        }
        switch input.datatype {
        case "BYTES":
            guard input.shape.count == 1 || (input.shape.count == 2 && input.shape[1] == 1) else {
                throw ServeError.badRequest("input '\(input.name)' (BYTES) must have shape [N] or [N, 1], one encoded image per element; got \(input.shape)")
            }
            let elements = try binary.map { try Self.lengthPrefixed($0, input: input.name) } ?? Self.base64Elements(input)
            guard elements.count == count else {
                throw ServeError.badRequest("input '\(input.name)' has shape \(input.shape) (\(count) images) but \(elements.count) elements")
            }
            let parts = elements.enumerated().map { (label: "\(input.name)[\($0.offset)]", data: $0.element) }
            return try await model.decode(parts, maxPixels: server.configuration.maxPixels)
        case "FP32":
            guard input.shape.count == 4, input.shape[3] == 3, input.shape[1] >= 1, input.shape[2] >= 1 else {
                throw ServeError.badRequest("input '\(input.name)' (FP32) must have shape [N, H, W, 3] (RGB in 0-255); got \(input.shape)")
            }
            let (height, width) = (input.shape[1], input.shape[2])
            guard height * width <= server.configuration.maxPixels else {
                throw ServeError.imageTooLarge(part: input.name, width: width, height: height,
                                               limitMegapixels: server.configuration.maxMegapixels)
            }
            let values = try binary.map { Self.littleEndianFloats($0) } ?? Self.numbers(input)
            guard values.count == count else {
                throw ServeError.badRequest("input '\(input.name)' has shape \(input.shape) (\(count) values) but \(values.count) values")
            }
            if let bad = values.first(where: { !(0...255).contains($0) }) {
                throw ServeError.badRequest("input '\(input.name)' has values outside 0-255 (RGB pixels), e.g. \(bad)")
            }
            let per = height * width * 3
            return (0..<input.shape[0]).map { i in
                let pixels = values[(i * per)..<((i + 1) * per)].map { UInt8($0.rounded()) }
                let image = RGBImage(width: width, height: height, pixels: pixels)
                let size = model.classifier.inputSize
                return width == size && height == size ? image : image.resized(width: size, height: size)
            }
        default:
            throw ServeError.badRequest("input '\(input.name)' has datatype \(input.datatype); this model takes BYTES (encoded JPEG/PNG images) or FP32 [N, H, W, 3]")
        }
    }

    private static func base64Elements(_ input: InferInput) throws(ServeError) -> [Data] {
        guard case .strings(let strings)? = input.data else {
            throw .badRequest("input '\(input.name)' (BYTES) needs data: an array of base64-encoded JPEG or PNG images")
        }
        return try strings.enumerated().map { (index, text) throws(ServeError) in
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
                throw .badRequest("input '\(input.name)' element \(index) is not base64 (BYTES in JSON carry encoded images as base64)")
            }
            return data
        }
    }

    private static func numbers(_ input: InferInput) throws(ServeError) -> [Float] {
        switch input.data {
        case .numbers(let values)?: values
        case .strings?: throw .badRequest("input '\(input.name)' is FP32 but its data are strings")
        case nil: throw .badRequest("input '\(input.name)' has no data (and no binary_data_size)")
        }
    }

    /// BYTES elements in binary form: each a 4-byte little-endian length and the bytes.
    private static func lengthPrefixed(_ data: Data, input: String) throws(ServeError) -> [Data] {
        var elements: [Data] = [], offset = data.startIndex
        while offset < data.endIndex {
            guard offset + 4 <= data.endIndex else { throw .badRequest("input '\(input)': binary BYTES data ends inside an element's length") }
            let length = data[offset..<(offset + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            guard offset + length <= data.endIndex else { throw .badRequest("input '\(input)': binary BYTES element \(elements.count) is truncated") }
            elements.append(data[offset..<(offset + length)])
            offset += length
        }
        return elements
    }

    private static func littleEndianFloats(_ data: Data) -> [Float] {
        stride(from: data.startIndex, to: data.endIndex - 3, by: 4).map { i in
            Float(bitPattern: data[i..<(i + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let c): "missing '\(key.stringValue)'\(path(c.codingPath))"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c): "\(c.debugDescription)\(path(c.codingPath))"
        case DecodingError.dataCorrupted(let c): c.debugDescription
        default: "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "" : " at " + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

/// A tensor's data in JSON: numbers or strings, flat or nested (flattened row-major).
enum TensorData: Codable, Equatable {
    case numbers([Float])
    case strings([String])

    init(from decoder: any Decoder) throws {
        // The usual case, a flat array, decodes at once; nested arrays element by element.
        if let numbers = try? decoder.singleValueContainer().decode([Float].self) { self = .numbers(numbers); return }
        if let strings = try? decoder.singleValueContainer().decode([String].self) { self = .strings(strings); return }
        var numbers: [Float] = [], strings: [String] = []
        var container = try decoder.unkeyedContainer()
        try Self.flatten(&container, &numbers, &strings)
        if !numbers.isEmpty && !strings.isEmpty {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "data mixes numbers and strings")
        }
        self = strings.isEmpty ? .numbers(numbers) : .strings(strings)
    }

    private static func flatten(_ container: inout any UnkeyedDecodingContainer, _ numbers: inout [Float], _ strings: inout [String]) throws {
        while !container.isAtEnd {
            if let value = try? container.decode(String.self) { strings.append(value) }
            else if let value = try? container.decode(Float.self) { numbers.append(value) }
            else {
                var nested = try container.nestedUnkeyedContainer()
                try flatten(&nested, &numbers, &strings)
            }
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .numbers(let values): try container.encode(values)
        case .strings(let values): try container.encode(values)
        }
    }
}

extension HTTPField.Name {
    static let inferenceHeaderContentLength = HTTPField.Name("Inference-Header-Content-Length")!
}
