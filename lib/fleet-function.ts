import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, type IPrincipal, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  Code,
  type IFunction,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUNDLE_FILE, HANDLER_NODE_OPTIONS } from './bundling';

export interface FleetFunctionProps {
  /** The handler file under functions/handlers, without extension. */
  readonly handler: string;
  readonly description: string;
  readonly environment?: Record<string, string>;
  /** @default Duration.minutes(1) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  readonly logRetention: RetentionDays;
  /** What happens to the log group when the stack goes. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Where failed asynchronous invocations go (after Lambda's two retries). Functions that are
   * only invoked synchronously (by Step Functions, or an SQS event source) say why instead.
   */
  readonly invocation:
    | { readonly async: true; readonly deadLetterQueue: IQueue }
    | { readonly async: false; readonly why: string };
}

/**
 * FleetOps' house Lambda function: the newest Node.js runtime, ARM64, X-Ray tracing, JSON logs
 * in its own log group with retention, and an esbuild bundle (lib/bundling.ts: ES module entry
 * points of the AWS SDK, tree-shaken, minified, source maps). Its role has no managed policy: it may write its own log
 * group and whatever grants add.
 */
export class FleetFunction extends Construct implements IGrantable {
  readonly function: IFunction;
  readonly grantPrincipal: IPrincipal;
  readonly role: Role;
  private readonly lambdaFunction: LambdaFunction;

  constructor(scope: Construct, id: string, props: FleetFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `FleetOps ${props.handler}`,
    });
    logGroup.grantWrite(role);
    const bundle = mkdtempSync(join(tmpdir(), `fleetops-${props.handler}-`));
    const fn = new LambdaFunction(this, 'Function', {
      code: Code.fromCustomCommand(bundle, [
        process.execPath,
        require.resolve('tsx/cli'),
        join(__dirname, 'bundle-handler.ts'),
        props.handler,
        bundle,
      ]),
      handler: `${BUNDLE_FILE.replace(/\.mjs$/, '')}.handler`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.minutes(1),
      tracing: Tracing.ACTIVE,
      role,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      ...(props.invocation.async ? { deadLetterQueue: props.invocation.deadLetterQueue } : {}),
      environment: { NODE_OPTIONS: HANDLER_NODE_OPTIONS, ...props.environment },
    });
    if (!props.invocation.async) {
      Validations.of(fn).acknowledge({ id: 'Serverless-LambdaDLQ', reason: props.invocation.why });
    }
    this.function = fn;
    this.lambdaFunction = fn;
    this.grantPrincipal = role;
    this.role = role;
  }

  addEnvironment(key: string, value: string): void {
    this.lambdaFunction.addEnvironment(key, value);
  }

  /**
   * Gives the function the fleet-state table: `TABLE_NAME` and read/write on the table and its
   * indexes, in one call, with the one wildcard that grant needs acknowledged.
   */
  bindTable(table: ITable): void {
    this.lambdaFunction.addEnvironment('TABLE_NAME', table.tableName);
    table.grantReadWriteData(this.role);
    const tableId = Stack.of(this).getLogicalId(table.node.defaultChild as CfnElement);
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${tableId}.Arn>/index/*]`,
      reason:
        "Queries on the fleet-state table's own indexes (gsi1, gsi2): the grant is limited to that table.",
    });
  }
}
