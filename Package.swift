// swift-tools-version:6.2
import PackageDescription

/// One set of Swift settings for every target: Swift 6 language mode (strict concurrency) everywhere.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "trace-bridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "trace-bridge", targets: ["trace-bridge"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C only: links Debian's librabbitmq (rabbitmq-c 0.11) and shims what Swift cannot call.
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // The one importer of CRabbitMQ.
        .target(
            name: "RabbitMQ",
            dependencies: ["CRabbitMQ", "TraceCore"],
            swiftSettings: swiftSettings
        ),
        // Generated once from the official OpenTelemetry protos (scripts/generate-otlp-proto.sh).
        .target(
            name: "OTLPProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Generated/README.md"],
            swiftSettings: swiftSettings
        ),
        // Pure core: decode bus events, extract context, synthesize spans, encode OTLP. No sockets, NIO or logging.
        .target(
            name: "TraceCore",
            dependencies: [
                "OTLPProto",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "trace-bridge",
            dependencies: [
                "TraceCore",
                "RabbitMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets: the repository's files, the built CLI, child processes.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TraceCoreTests",
            dependencies: ["TraceCore", "OTLPProto", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RabbitMQTests",
            dependencies: ["RabbitMQ"],
            swiftSettings: swiftSettings
        ),
        // Real rabbitmq-server (tools/broker.sh) and real oslo.messaging (tools/scenario/driver.py).
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["TraceCore", "TestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
