import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type ITable, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

export interface FleetTableProps {
  /**
   * What happens to the table (and every record of fleet state, budgets, leases and history
   * in it) when the stack is deleted or the table replaced.
   * @default RemovalPolicy.RETAIN, with deletion protection on
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The attribute DynamoDB's TTL reads: leases, reservations and idempotency records expire by it. */
export const TTL_ATTRIBUTE = 'expiresAt';

/**
 * The fleet-state table: one DynamoDB table for instances, services and budgets, changes and
 * plans, leases, freezes, findings and the audit trail (single-table design: `pk`, `sk`).
 * Point-in-time recovery and encryption at rest are always on.
 */
export class FleetTable extends Construct {
  readonly table: ITable;

  constructor(scope: Construct, id: string, props: FleetTableProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
  }
}
